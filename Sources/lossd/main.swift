print("lossd: under construction")
