output "service_name" {
  description = "Name of the ECS service."
  value       = aws_ecs_service.this.name
}

output "service_id" {
  description = "ARN of the ECS service."
  value       = aws_ecs_service.this.id
}

output "task_definition_family" {
  description = "Task definition family (the CD workflow registers new revisions in it)."
  value       = aws_ecs_task_definition.this.family
}

output "task_definition_arn" {
  description = "ARN of the revision Terraform registered last."
  value       = aws_ecs_task_definition.this.arn
}

output "container_name" {
  description = "Name of the container in the task definition."
  value       = var.container_name
}

output "service_discovery_name" {
  description = "DNS name in the namespace, or null without service discovery."
  value       = var.service_discovery_namespace_id == null ? null : aws_service_discovery_service.this[0].name
}
