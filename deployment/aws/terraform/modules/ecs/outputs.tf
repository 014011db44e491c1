output "cluster_id" {
  description = "ID (ARN) of the cluster."
  value       = aws_ecs_cluster.this.id
}

output "cluster_arn" {
  description = "ARN of the cluster."
  value       = aws_ecs_cluster.this.arn
}

output "cluster_name" {
  description = "Name of the cluster."
  value       = aws_ecs_cluster.this.name
}

output "service_discovery_namespace_id" {
  description = "ID of the private DNS namespace."
  value       = aws_service_discovery_private_dns_namespace.this.id
}

output "service_discovery_namespace_name" {
  description = "Name of the private DNS namespace (services are <service>.<namespace>)."
  value       = aws_service_discovery_private_dns_namespace.this.name
}

output "exec_log_group_name" {
  description = "Log group of ECS Exec sessions."
  value       = aws_cloudwatch_log_group.exec.name
}

output "exec_log_group_arn" {
  description = "ARN of the ECS Exec session log group."
  value       = aws_cloudwatch_log_group.exec.arn
}
