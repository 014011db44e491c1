output "metric_namespace" {
  description = "CloudWatch namespace the API's business metrics are published in."
  value       = var.metric_namespace
}

output "service_name" {
  description = "ECS service of the agent."
  value       = aws_ecs_service.this.name
}
