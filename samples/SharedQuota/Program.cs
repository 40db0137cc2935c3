using SharedQuota;

// Two replicas of the payment service sharing one rate limit through an embedded Garnet server: nothing to install.
var result = await SharedQuotaRunner.RunAsync(Console.Out, CancellationToken.None);
return result.QuotaShared ? 0 : 1;
