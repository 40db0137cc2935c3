using Mesh.AotSample;

AotSampleApp.Build(args).Run();
