using PaymentService;

PaymentServiceApp.Build(args).Run();
