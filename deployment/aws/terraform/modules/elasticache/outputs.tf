output "replication_group_id" {
  description = "ID of the replication group."
  value       = aws_elasticache_replication_group.this.id
}

output "primary_endpoint" {
  description = "Host name of the primary node (reads and writes)."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "port" {
  description = "Port of the cache."
  value       = aws_elasticache_replication_group.this.port
}
