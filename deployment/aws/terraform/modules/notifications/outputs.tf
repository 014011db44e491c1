output "ecs_deployment_rule_name" {
  description = "EventBridge rule that sends ECS deployment state changes to the alert topic."
  value       = aws_cloudwatch_event_rule.ecs_deployments.name
}

output "chatbot_configuration_arn" {
  description = "AWS Chatbot Slack channel configuration, or null when Slack is off."
  value       = var.slack == null ? null : aws_chatbot_slack_channel_configuration.this[0].chat_configuration_arn
}
