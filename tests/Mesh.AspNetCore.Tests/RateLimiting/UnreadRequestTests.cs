using System.Buffers;
using System.IO.Pipelines;
using Mesh.AspNetCore.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Mesh.AspNetCore.Tests.RateLimiting;

/// <summary>
/// How a rejection finds out that it may answer: a request whose end has arrived is answered without reading it; one
/// whose end Kestrel has not reported yet is read (what has arrived is dropped) to see whether it ends there. The
/// premise, that Kestrel logs nothing for an unread request whose end arrived, is held over Kestrel by the flood tests
/// (<c>RejectionFloodTests</c>).
/// </summary>
public sealed class UnreadRequestTests
{
    [Fact]
    public void HasEnded_EndOfTheRequestArrived_TrueWithoutReadingTheBody()
    {
        var body = new Pipe();
        body.Writer.Write("message"u8);
        var reader = new CountingReader(body.Reader);
        var context = Context(reader, endArrived: true);

        Assert.True(UnreadRequest.HasEnded(context));
        Assert.Equal(0, reader.Reads);
    }

    [Fact]
    public async Task HasEnded_EndNotReportedButTheBodyIsComplete_TrueAndWhatArrivedIsDropped()
    {
        var body = new Pipe();
        body.Writer.Write("message"u8);
        await body.Writer.CompleteAsync();
        var reader = new CountingReader(body.Reader);
        var context = Context(reader, endArrived: false);

        Assert.True(UnreadRequest.HasEnded(context));
        Assert.Equal(1, reader.Reads);
        Assert.True(body.Reader.TryRead(out var rest));
        Assert.True(rest.Buffer.IsEmpty);
    }

    [Fact]
    public async Task HasEnded_BodyStillOpen_False()
    {
        var body = new Pipe();
        body.Writer.Write("first half"u8);
        await body.Writer.FlushAsync(TestContext.Current.CancellationToken);
        var context = Context(new CountingReader(body.Reader), endArrived: false);

        Assert.False(UnreadRequest.HasEnded(context));
    }

    [Fact]
    public void HasEnded_NoTrailersFeature_FallsBackToReading()
    {
        var body = new Pipe();
        body.Writer.Complete();
        var reader = new CountingReader(body.Reader);
        var context = new DefaultHttpContext();
        context.Features.Set<IRequestBodyPipeFeature>(new BodyPipe(reader));

        Assert.True(UnreadRequest.HasEnded(context));
        Assert.Equal(1, reader.Reads);
    }

    private static DefaultHttpContext Context(PipeReader body, bool endArrived)
    {
        var context = new DefaultHttpContext();
        context.Features.Set<IRequestBodyPipeFeature>(new BodyPipe(body));
        context.Features.Set<IHttpRequestTrailersFeature>(new RequestTrailers(endArrived));
        return context;
    }

    private sealed class BodyPipe(PipeReader reader) : IRequestBodyPipeFeature
    {
        public PipeReader Reader { get; } = reader;
    }

    private sealed class RequestTrailers(bool available) : IHttpRequestTrailersFeature
    {
        public bool Available { get; } = available;

        public IHeaderDictionary Trailers { get; } = new HeaderDictionary();
    }

    /// <summary>Counts the reads a rejection makes of the request body.</summary>
    private sealed class CountingReader(PipeReader inner) : PipeReader
    {
        public int Reads { get; private set; }

        public override bool TryRead(out ReadResult result)
        {
            Reads++;
            return inner.TryRead(out result);
        }

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            Reads++;
            return inner.ReadAsync(cancellationToken);
        }

        public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);
    }
}
