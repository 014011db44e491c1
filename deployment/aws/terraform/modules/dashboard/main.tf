# One CloudWatch dashboard per environment: what to look at during a deployment and on
# call. Traffic widgets sum the service's target groups (blue and green during a
# blue-green deployment); task counts need Container Insights.
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  region = data.aws_region.current.name
  alarm_arns = [
    for name in var.alarm_names :
    "arn:${data.aws_partition.current.partition}:cloudwatch:${local.region}:${data.aws_caller_identity.current.account_id}:alarm:${name}"
  ]

  # [namespace, metric, dimension name, dimension value, ...] rows, one per target group.
  target_group_rows = {
    for metric in ["RequestCount", "HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count"] : metric => [
      for suffix in var.api_target_group_arn_suffixes :
      ["AWS/ApplicationELB", metric, "LoadBalancer", var.alb_arn_suffix, "TargetGroup", suffix]
    ]
  }
  latency_rows = [
    for suffix in var.api_target_group_arn_suffixes :
    ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", var.alb_arn_suffix, "TargetGroup", suffix, { stat = "p99" }]
  ]
  task_rows = [
    for service in var.service_names :
    ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", var.cluster_name, "ServiceName", service]
  ]
  cpu_rows = [
    for service in var.service_names :
    ["AWS/ECS", "CPUUtilization", "ClusterName", var.cluster_name, "ServiceName", service]
  ]

  # The API's business metrics, when the metrics agent publishes them.
  business = var.business_metric_namespace == null ? [] : [
    {
      title = "Decisions / min (policy stage and decision)"
      stat  = "Sum"
      metrics = [[{
        expression = "SEARCH('{${var.business_metric_namespace},job,stage,decision} MetricName=\"fraudops_policy_decisions_total\"', 'Sum', 60)"
        id         = "decisions"
      }]]
    },
    {
      title = "Drift share (share of drifted features)"
      stat  = "Maximum"
      metrics = [[{
        expression = "SEARCH('{${var.business_metric_namespace},job} MetricName=\"fraudops_drift_share\"', 'Maximum', 300)"
        id         = "drift"
      }]]
    },
  ]

  widget = { width = 8, height = 6 }
  widgets = concat(local.business, [
    { title = "API requests / min", stat = "Sum", metrics = local.target_group_rows["RequestCount"] },
    { title = "API p99 response time (s)", stat = "p99", metrics = local.latency_rows },
    {
      title   = "API 5xx / min (targets, load balancer)"
      stat    = "Sum"
      metrics = concat(local.target_group_rows["HTTPCode_Target_5XX_Count"], local.target_group_rows["HTTPCode_ELB_5XX_Count"])
    },
    { title = "Running tasks per service", stat = "Minimum", metrics = local.task_rows },
    { title = "CPU per service (%)", stat = "Average", metrics = local.cpu_rows },
    {
      title = "PostgreSQL (RDS): CPU %, connections"
      stat  = "Average"
      metrics = [
        ["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", var.database_instance_id],
        ["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", var.database_instance_id, { yAxis = "right" }],
      ]
    },
    {
      title = "PostgreSQL (RDS): free storage (bytes)"
      stat  = "Minimum"
      metrics = [
        ["AWS/RDS", "FreeStorageSpace", "DBInstanceIdentifier", var.database_instance_id],
      ]
    },
    {
      title = "Redis (online features): engine CPU %, memory %, connections"
      stat  = "Average"
      metrics = [
        [{ expression = "SEARCH('{AWS/ElastiCache,CacheClusterId} MetricName=\"EngineCPUUtilization\" ${var.redis_replication_group_id}', 'Average', 60)", id = "cpu", label = "engine CPU" }],
        [{ expression = "SEARCH('{AWS/ElastiCache,CacheClusterId} MetricName=\"DatabaseMemoryUsagePercentage\" ${var.redis_replication_group_id}', 'Average', 60)", id = "memory", label = "memory" }],
        [{ expression = "SEARCH('{AWS/ElastiCache,CacheClusterId} MetricName=\"CurrConnections\" ${var.redis_replication_group_id}', 'Average', 60)", id = "connections", label = "connections", yAxis = "right" }],
      ]
    },
  ])
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name

  dashboard_body = jsonencode({
    widgets = concat(
      [
        for index, widget in local.widgets : {
          type   = "metric"
          x      = (index % 3) * local.widget.width
          y      = floor(index / 3) * local.widget.height
          width  = local.widget.width
          height = local.widget.height
          properties = {
            title   = widget.title
            region  = local.region
            view    = "timeSeries"
            stacked = false
            period  = 60
            stat    = widget.stat
            metrics = widget.metrics
          }
        }
      ],
      [{
        type       = "alarm"
        x          = 0
        y          = ceil(length(local.widgets) / 3) * local.widget.height
        width      = 24
        height     = 4
        properties = { title = "Alarms", alarms = local.alarm_arns }
      }],
    )
  })
}
