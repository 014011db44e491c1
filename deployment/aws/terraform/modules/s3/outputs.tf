output "data_bucket_name" {
  description = "Name of the data bucket."
  value       = aws_s3_bucket.content["data"].id
}

output "data_bucket_arn" {
  description = "ARN of the data bucket."
  value       = aws_s3_bucket.content["data"].arn
}

output "artifacts_bucket_name" {
  description = "Name of the MLflow artifact bucket."
  value       = aws_s3_bucket.content["artifacts"].id
}

output "artifacts_bucket_arn" {
  description = "ARN of the MLflow artifact bucket."
  value       = aws_s3_bucket.content["artifacts"].arn
}

output "logs_bucket_name" {
  description = "Name of the access-log bucket (read from its policy, so users wait until the load balancer may write)."
  value       = aws_s3_bucket_policy.logs.bucket
}

output "alb_log_prefix" {
  description = "Prefix under the log bucket where the load balancer writes."
  value       = "alb"
}
