output "instance_id" {
  description = "Identifier of the DB instance."
  value       = aws_db_instance.this.identifier
}

output "instance_arn" {
  description = "ARN of the DB instance."
  value       = aws_db_instance.this.arn
}

output "address" {
  description = "Host name of the DB instance."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Port of the DB instance."
  value       = aws_db_instance.this.port
}

output "database_name" {
  description = "Database created with the instance (null when none was asked for)."
  value       = aws_db_instance.this.db_name
}

output "username" {
  description = "Master user name."
  value       = aws_db_instance.this.username
}
