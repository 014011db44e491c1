output "application_name" {
  description = "CodeDeploy application (the CD workflow's codedeploy-application)."
  value       = aws_codedeploy_app.this.name
}

output "deployment_group_name" {
  description = "CodeDeploy deployment group (the CD workflow's codedeploy-deployment-group)."
  value       = aws_codedeploy_deployment_group.this.deployment_group_name
}

output "deployment_group_arn" {
  description = "ARN of the deployment group (the deploy role creates deployments in it)."
  value       = local.deployment_group_arn
}

output "hook_function_names" {
  description = "Hook function by AppSpec lifecycle event."
  value       = { for key, hook in local.hooks : hook.event => aws_lambda_function.smoke[key].function_name }
}

output "rollback_alarm_names" {
  description = "Alarms that stop a deployment and roll it back."
  value       = local.rollback_alarm_names
}

output "green_target_group_arn_suffix" {
  description = "ARN suffix of the green target group (CloudWatch dimension)."
  value       = aws_lb_target_group.green.arn_suffix
}

output "test_url" {
  description = "Base URL of the test listener (the green task set during a deployment)."
  value       = local.test_url
}
