using OrderService;

OrderServiceApp.Build(args).Run();
