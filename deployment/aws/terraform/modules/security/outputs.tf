output "alb_security_group_id" {
  description = "Security group of the load balancer."
  value       = aws_security_group.this["alb"].id
}

output "api_security_group_id" {
  description = "Security group of the API tasks."
  value       = aws_security_group.this["api"].id
}

output "mlflow_security_group_id" {
  description = "Security group of the MLflow tasks."
  value       = aws_security_group.this["mlflow"].id
}

output "airflow_web_security_group_id" {
  description = "Security group of the Airflow API server tasks."
  value       = aws_security_group.this["airflow_web"].id
}

output "airflow_workers_security_group_id" {
  description = "Security group of the Airflow scheduler, DAG processor and db-init tasks."
  value       = aws_security_group.this["airflow_workers"].id
}

output "database_security_group_id" {
  description = "Security group of the PostgreSQL instance."
  value       = aws_security_group.this["database"].id
}

output "redis_security_group_id" {
  description = "Security group of the Redis replication group."
  value       = aws_security_group.this["redis"].id
}
