output "execution_role_arns" {
  description = "Execution role ARN by service key."
  value       = { for key, role in aws_iam_role.execution : key => role.arn }
}

output "task_role_arns" {
  description = "Task role ARN by service key."
  value       = { for key, role in aws_iam_role.task : key => role.arn }
}

output "deploy_role_arn" {
  description = "Role the GitHub workflows assume (null without github_repository)."
  value       = local.deploy ? aws_iam_role.deploy[0].arn : null
}
