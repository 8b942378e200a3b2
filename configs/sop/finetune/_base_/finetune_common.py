# Settings every fine-tuning config shares: mmpad registered, the
# checking runner, evaluation every 1k iterations for convergence curves.
custom_imports = dict(imports=['mmpad'], allow_failed_imports=False)
runner_type = 'MMPadRunner'
