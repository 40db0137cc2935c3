using InventoryService;

InventoryServiceApp.Build(args).Run();
