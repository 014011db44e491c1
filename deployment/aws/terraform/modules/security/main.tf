# One security group per role; every rule names its peer group, so each component
# reaches exactly the ports it needs:
#   internet -> alb:80/443 -> api:8000 -> mlflow:5000, redis:6379
#   admins   -> alb:5000   -> mlflow:5000 -> postgres:5432
#   admins   -> alb:8080   -> airflow-web:8080 -> postgres:5432
#   airflow-workers (scheduler, DAG processor, tasks) -> airflow-web:8080 (task API),
#                   postgres:5432, mlflow:5000, redis:6379
#   airflow-web -> airflow-workers:8793 (task logs served by the scheduler)
#   airflow-workers -> api:8000 (reload after a promotion)
# Tasks also leave on 443 for AWS APIs (ECR, Secrets Manager, S3, CloudWatch).
locals {
  groups = {
    alb             = "Load balancer"
    api             = "fraudops API tasks"
    mlflow          = "MLflow tracking server tasks"
    airflow_web     = "Airflow API server tasks"
    airflow_workers = "Airflow scheduler, DAG processor and task processes"
    database        = "PostgreSQL (MLflow and Airflow metadata)"
    redis           = "Redis online feature store"
  }

  # Group-to-group rules: [from, to, port, why]. Each becomes an egress rule on `from`
  # and an ingress rule on `to`.
  peer_rules = [
    ["alb", "api", var.api_port, "load balancer to API"],
    ["alb", "mlflow", var.mlflow_port, "load balancer to MLflow"],
    ["alb", "airflow_web", var.airflow_port, "load balancer to Airflow API server"],
    ["api", "mlflow", var.mlflow_port, "API loads models from MLflow"],
    ["api", "redis", 6379, "API reads online features"],
    ["mlflow", "database", 5432, "MLflow backend store"],
    ["airflow_web", "database", 5432, "Airflow metadata database"],
    ["airflow_workers", "database", 5432, "Airflow metadata database"],
    ["airflow_workers", "airflow_web", var.airflow_port, "Airflow task execution API"],
    ["airflow_web", "airflow_workers", 8793, "API server reads task logs from the scheduler"],
    ["airflow_workers", "mlflow", var.mlflow_port, "training runs log to MLflow"],
    ["airflow_workers", "redis", 6379, "feature pipeline writes online features"],
    ["airflow_workers", "api", var.api_port, "promotion asks the API to reload its model"],
  ]
  peer_rule_map = { for rule in local.peer_rules : "${rule[0]}-to-${rule[1]}-${rule[2]}" => {
    from        = rule[0]
    to          = rule[1]
    port        = rule[2]
    description = rule[3]
  } }

  # Ingress from outside the VPC: [group, port, cidr, why].
  cidr_ingress = concat(
    flatten([for cidr in var.ingress_cidr_blocks : [
      ["alb", 80, cidr, "HTTP (redirects to HTTPS when TLS is on)"],
      ["alb", 443, cidr, "HTTPS to the API"],
    ]]),
    flatten([for cidr in var.admin_cidr_blocks : [
      ["alb", var.mlflow_port, cidr, "admins to MLflow"],
      ["alb", var.airflow_port, cidr, "admins to Airflow"],
    ]]),
  )
  cidr_ingress_map = { for rule in local.cidr_ingress : "${rule[0]}-${rule[1]}-${rule[2]}" => {
    group       = rule[0]
    port        = rule[1]
    cidr        = rule[2]
    description = rule[3]
  } }

  # Groups whose tasks call AWS APIs over HTTPS (through NAT or the S3 endpoint).
  https_egress_groups = ["api", "mlflow", "airflow_web", "airflow_workers"]
}

resource "aws_security_group" "this" {
  #checkov:skip=CKV2_AWS_5:The groups are attached by the alb, rds, elasticache and ecs-service modules through this module's outputs, which checkov does not follow.
  for_each = local.groups

  name        = "${var.name}-${replace(each.key, "_", "-")}"
  description = "${var.name}: ${each.value}"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-${replace(each.key, "_", "-")}" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "cidr" {
  #checkov:skip=CKV_AWS_260:The public load balancer must accept port 80 from its clients; with TLS on it only redirects to 443.
  for_each = local.cidr_ingress_map

  security_group_id = aws_security_group.this[each.value.group].id
  description       = each.value.description
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
  cidr_ipv4         = each.value.cidr

  tags = merge(var.tags, { Name = each.key })
}

resource "aws_vpc_security_group_ingress_rule" "peer" {
  for_each = local.peer_rule_map

  security_group_id            = aws_security_group.this[each.value.to].id
  referenced_security_group_id = aws_security_group.this[each.value.from].id
  description                  = "From ${each.value.from}: ${each.value.description}"
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port

  tags = merge(var.tags, { Name = "${each.key}-in" })
}

resource "aws_vpc_security_group_egress_rule" "peer" {
  for_each = local.peer_rule_map

  security_group_id            = aws_security_group.this[each.value.from].id
  referenced_security_group_id = aws_security_group.this[each.value.to].id
  description                  = "To ${each.value.to}: ${each.value.description}"
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port

  tags = merge(var.tags, { Name = "${each.key}-out" })
}

resource "aws_vpc_security_group_egress_rule" "https" {
  for_each = toset(local.https_egress_groups)

  security_group_id = aws_security_group.this[each.key].id
  description       = "HTTPS to AWS APIs (ECR, Secrets Manager, S3, CloudWatch)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"

  tags = merge(var.tags, { Name = "${each.key}-https-out" })
}
