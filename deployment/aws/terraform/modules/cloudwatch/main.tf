# Log groups for every service and one-off task, and the alarms an operator wants
# paged for: CPU, memory, service down (no running task), 5xx rate, p99 latency,
# unhealthy targets, and database CPU and storage. Every alarm notifies the SNS
# topic when it fires and when it recovers.
locals {
  log_group_keys = concat(keys(var.services), var.extra_log_groups)
  with_target    = { for key, service in var.services : key => service if service.target_group_arn_suffix != null }
  with_http      = { for key, service in local.with_target : key => service if service.http_alarms }
  actions        = [var.alarm_topic_arn]
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is a setting (log_retention_days); one year of container logs costs more than most deployments need.
  for_each = toset(local.log_group_keys)

  name              = "/ecs/${var.name}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = merge(var.tags, { Service = each.key })
}

resource "aws_cloudwatch_metric_alarm" "cpu_high" {
  for_each = var.services

  alarm_name          = "${each.value.service_name}-cpu-high"
  alarm_description   = "${each.value.service_name}: average CPU above ${var.cpu_threshold_percent}% for ${var.evaluation_periods} minutes (autoscaling is not keeping up or max capacity is reached)."
  namespace           = "AWS/ECS"
  metric_name         = "CPUUtilization"
  dimensions          = { ClusterName = var.cluster_name, ServiceName = each.value.service_name }
  statistic           = "Average"
  period              = 60
  evaluation_periods  = var.evaluation_periods
  threshold           = var.cpu_threshold_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = local.actions
  ok_actions          = local.actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "memory_high" {
  for_each = var.services

  alarm_name          = "${each.value.service_name}-memory-high"
  alarm_description   = "${each.value.service_name}: average memory above ${var.memory_threshold_percent}% for ${var.evaluation_periods} minutes (risk of OOM kills)."
  namespace           = "AWS/ECS"
  metric_name         = "MemoryUtilization"
  dimensions          = { ClusterName = var.cluster_name, ServiceName = each.value.service_name }
  statistic           = "Average"
  period              = 60
  evaluation_periods  = var.evaluation_periods
  threshold           = var.memory_threshold_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = local.actions
  ok_actions          = local.actions

  tags = var.tags
}

# Needs Container Insights on the cluster. Missing data means no task reports at all,
# which is exactly the outage this alarm exists for.
resource "aws_cloudwatch_metric_alarm" "service_down" {
  for_each = var.services

  alarm_name          = "${each.value.service_name}-down"
  alarm_description   = "${each.value.service_name}: no running task for 3 minutes."
  namespace           = "ECS/ContainerInsights"
  metric_name         = "RunningTaskCount"
  dimensions          = { ClusterName = var.cluster_name, ServiceName = each.value.service_name }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 3
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  actions_enabled     = true
  alarm_actions       = local.actions
  ok_actions          = local.actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "unhealthy_targets" {
  for_each = local.with_target

  alarm_name          = "${each.value.service_name}-unhealthy-targets"
  alarm_description   = "${each.value.service_name}: at least one target failed its load balancer health check for ${var.evaluation_periods} minutes."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = { LoadBalancer = var.alb_arn_suffix, TargetGroup = each.value.target_group_arn_suffix }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = var.evaluation_periods
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = local.actions
  ok_actions          = local.actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "http_5xx_rate" {
  for_each = local.with_http

  alarm_name          = "${each.value.service_name}-5xx-rate"
  alarm_description   = "${each.value.service_name}: more than ${var.http_5xx_rate_threshold_percent}% of requests answered 5xx for ${var.evaluation_periods} minutes."
  evaluation_periods  = var.evaluation_periods
  threshold           = var.http_5xx_rate_threshold_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = local.actions
  ok_actions          = local.actions

  metric_query {
    id          = "rate"
    label       = "5xx share of requests (%)"
    expression  = "IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)"
    return_data = true
  }

  metric_query {
    id = "errors"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = { LoadBalancer = var.alb_arn_suffix, TargetGroup = each.value.target_group_arn_suffix }
      stat        = "Sum"
      period      = 60
    }
  }

  metric_query {
    id = "requests"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = { LoadBalancer = var.alb_arn_suffix, TargetGroup = each.value.target_group_arn_suffix }
      stat        = "Sum"
      period      = 60
    }
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "latency_p99" {
  for_each = local.with_http

  alarm_name          = "${each.value.service_name}-latency-p99"
  alarm_description   = "${each.value.service_name}: p99 response time above ${var.latency_p99_threshold_seconds}s for ${var.evaluation_periods} minutes."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = { LoadBalancer = var.alb_arn_suffix, TargetGroup = each.value.target_group_arn_suffix }
  extended_statistic  = "p99"
  period              = 60
  evaluation_periods  = var.evaluation_periods
  threshold           = var.latency_p99_threshold_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = local.actions
  ok_actions          = local.actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "database_cpu" {
  count = var.database_instance_id == null ? 0 : 1

  alarm_name          = "${var.name}-database-cpu-high"
  alarm_description   = "${var.database_instance_id}: CPU above 80% for ${var.evaluation_periods} minutes."
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  dimensions          = { DBInstanceIdentifier = var.database_instance_id }
  statistic           = "Average"
  period              = 60
  evaluation_periods  = var.evaluation_periods
  threshold           = 80
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = local.actions
  ok_actions          = local.actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "database_storage" {
  count = var.database_instance_id == null ? 0 : 1

  alarm_name          = "${var.name}-database-storage-low"
  alarm_description   = "${var.database_instance_id}: less than 2 GiB of free storage."
  namespace           = "AWS/RDS"
  metric_name         = "FreeStorageSpace"
  dimensions          = { DBInstanceIdentifier = var.database_instance_id }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 2147483648
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = local.actions
  ok_actions          = local.actions

  tags = var.tags
}

# The online store runs one Lua script per scored transaction on the Redis primary, one
# script at a time: its engine thread, not the API tasks, is the tier's ceiling
# (DEPLOYMENT_GUIDE.md, Sizing). One alarm per node: the primary moves on a failover.
resource "aws_cloudwatch_metric_alarm" "redis_engine_cpu" {
  count = var.redis_replication_group_id == null ? 0 : var.redis_nodes

  alarm_name          = "${var.name}-redis-engine-cpu-high-${count.index + 1}"
  alarm_description   = "${format("%s-%03d", var.redis_replication_group_id, count.index + 1)}: Redis engine thread above ${var.redis_engine_cpu_threshold_percent}% for ${var.evaluation_periods} minutes: the online store is near what one primary takes; split the portfolio (DEPLOYMENT_GUIDE.md, Sizing)."
  namespace           = "AWS/ElastiCache"
  metric_name         = "EngineCPUUtilization"
  dimensions          = { CacheClusterId = format("%s-%03d", var.redis_replication_group_id, count.index + 1) }
  statistic           = "Average"
  period              = 60
  evaluation_periods  = var.evaluation_periods
  threshold           = var.redis_engine_cpu_threshold_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = local.actions
  ok_actions          = local.actions

  tags = var.tags
}
