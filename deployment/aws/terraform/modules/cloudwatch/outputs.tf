output "log_group_names" {
  description = "Log group name by service or task key."
  value       = { for key, group in aws_cloudwatch_log_group.this : key => group.name }
}

output "log_group_arns" {
  description = "Log group ARN by service or task key."
  value       = { for key, group in aws_cloudwatch_log_group.this : key => group.arn }
}

output "alarm_names" {
  description = "Names of every alarm the module created."
  value = concat(
    [for alarm in aws_cloudwatch_metric_alarm.cpu_high : alarm.alarm_name],
    [for alarm in aws_cloudwatch_metric_alarm.memory_high : alarm.alarm_name],
    [for alarm in aws_cloudwatch_metric_alarm.service_down : alarm.alarm_name],
    [for alarm in aws_cloudwatch_metric_alarm.unhealthy_targets : alarm.alarm_name],
    [for alarm in aws_cloudwatch_metric_alarm.http_5xx_rate : alarm.alarm_name],
    [for alarm in aws_cloudwatch_metric_alarm.latency_p99 : alarm.alarm_name],
    [for alarm in aws_cloudwatch_metric_alarm.database_cpu : alarm.alarm_name],
    [for alarm in aws_cloudwatch_metric_alarm.database_storage : alarm.alarm_name],
  )
}
