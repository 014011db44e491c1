output "arns" {
  description = "Secret ARN by key (values are never output)."
  value       = { for key, secret in aws_secretsmanager_secret.this : key => secret.arn }
}

output "names" {
  description = "Secret name by key."
  value       = { for key, secret in aws_secretsmanager_secret.this : key => secret.name }
}
