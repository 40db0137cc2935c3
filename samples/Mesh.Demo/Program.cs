using Mesh.Demo;

DemoOptions options;
try
{
    options = DemoOptions.Parse(args);
}
catch (DemoUsageException ex)
{
    if (ex.Message.Length > 0 && ex.Message != new DemoUsageException().Message)
    {
        Console.Error.WriteLine(ex.Message);
    }

    Console.Error.WriteLine(DemoOptions.Usage);
    return 2;
}

using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancellation.Cancel();
};

var result = await DemoRunner.RunAsync(options, Console.Out, cancellation.Token);
return result.AllPatternsSeen ? 0 : 1;
