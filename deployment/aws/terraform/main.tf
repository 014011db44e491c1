# fraudops on AWS: one environment (dev, staging or production) per state.
#
#   internet ──► ALB ──► API (Fargate, 2+ tasks, autoscaled) ──► Redis (online features)
#                 │                 └──► MLflow (models) ──► RDS PostgreSQL, S3 artifacts
#   admins ──────►├──► MLflow UI (:5000)
#                 └──► Airflow API server (:8080) ◄── scheduler (+ tasks), DAG processor
#                                                    └──► S3 data, MLflow, Redis
#
# Step-by-step use: deployment/DEPLOYMENT_GUIDE.md.

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = local.tags
  }
}

data "aws_caller_identity" "current" {}

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Only the first availability_zone_count zones in name order are used; zones AWS adds get later letters, so the selection does not shift.
  state = "available"
}

locals {
  name       = "${var.project_name}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  tags = merge(var.tags, {
    Project     = var.project_name
    Environment = var.environment
    ManagedBy   = "terraform"
  })

  # Services by key: the key is the container name, the log stream prefix and the
  # suffix of the service and task definition family (<project>-<environment>-<key>).
  service_keys  = ["api", "mlflow", "airflow-api-server", "airflow-scheduler", "airflow-dag-processor"]
  service_names = { for key in local.service_keys : key => "${local.name}-${key}" }

  repositories = {
    api     = "${var.ecr_repository_prefix}-api"
    mlflow  = "${var.ecr_repository_prefix}-mlflow"
    airflow = "${var.ecr_repository_prefix}-airflow"
  }
  images = { for key, repository in local.repositories : key => "${module.ecr.repository_urls[repository]}:${var.image_tag}" }

  namespace       = "${local.name}.internal"
  mlflow_url      = "http://mlflow.${local.namespace}:5000"
  airflow_api_url = "http://airflow-api-server.${local.namespace}:8080"
  public_host     = coalesce(var.public_hostname, module.alb.dns_name)
  public_base_url = "${module.alb.scheme}://${local.public_host}"

  capacity_provider_strategy = var.ecs_use_fargate_spot ? [
    { capacity_provider = "FARGATE", weight = 0, base = var.ecs_on_demand_base_count },
    { capacity_provider = "FARGATE_SPOT", weight = 1, base = 0 },
  ] : [{ capacity_provider = "FARGATE", weight = 1, base = 0 }]

  # Settings every process running fraudops code shares (fraudops.config.Settings).
  fraudops_environment = {
    FRAUDOPS_ENV                     = "production"
    FRAUDOPS_HOME                    = "/var/lib/fraudops"
    FRAUDOPS_DATA_URI                = "s3://${module.s3.data_bucket_name}/data"
    FRAUDOPS_MLFLOW_TRACKING_URI     = local.mlflow_url
    FRAUDOPS_MLFLOW_REGISTRY_URI     = local.mlflow_url
    FRAUDOPS_MLFLOW_ARTIFACT_URI     = "mlflow-artifacts:/fraudops"
    FRAUDOPS_MODEL_NAME              = var.model_name
    FRAUDOPS_LOG_LEVEL               = var.log_level
    FRAUDOPS_RELOAD_INTERVAL_SECONDS = tostring(var.model_reload_interval_seconds)
    FRAUDOPS_DRIFT_SHARE_THRESHOLD   = tostring(var.drift_share_threshold)
    AWS_DEFAULT_REGION               = var.aws_region
  }
  fraudops_secrets = {
    FRAUDOPS_API_KEY          = module.secrets.arns["api-key"]
    FRAUDOPS_ADMIN_API_KEY    = module.secrets.arns["admin-api-key"]
    FRAUDOPS_CONSOLE_SECRET   = module.secrets.arns["console-secret"]
    FRAUDOPS_ONLINE_STORE_URI = module.secrets.arns["online-store-uri"]
    # the review queue and console users live in PostgreSQL, shared by every API task
    FRAUDOPS_CASES_URL = module.secrets.arns["cases-url"]
  }

  airflow_environment = merge(local.fraudops_environment, {
    AIRFLOW__CORE__EXECUTOR                           = "LocalExecutor"
    AIRFLOW__CORE__PARALLELISM                        = tostring(var.airflow_parallelism)
    AIRFLOW__CORE__LOAD_EXAMPLES                      = "False"
    AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION        = "False"
    AIRFLOW__CORE__AUTH_MANAGER                       = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
    AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS          = "${var.airflow_admin_username}:admin"
    AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE = "/opt/airflow/auth/passwords.json"
    AIRFLOW__CORE__EXECUTION_API_SERVER_URL           = "${local.airflow_api_url}/execution/"
    AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK           = "True"
    AIRFLOW__LOGGING__REMOTE_LOGGING                  = "False"
    # After a promotion the training pipeline asks the API to reload (one task answers;
    # the others pick the champion up at their next registry poll).
    FRAUDOPS_API_URL = "http://api.${local.namespace}:8000"
  })
  airflow_secrets = merge(local.fraudops_secrets, {
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN = module.secrets.arns["airflow-sql-alchemy-conn"]
    AIRFLOW__CORE__FERNET_KEY           = module.secrets.arns["airflow-fernet-key"]
    AIRFLOW__API__SECRET_KEY            = module.secrets.arns["airflow-api-secret-key"]
    AIRFLOW__API_AUTH__JWT_SECRET       = module.secrets.arns["airflow-jwt-secret"]
  })
  # Scheduler and DAG processor wait for the API server's migration before starting.
  wait_for_migrations = "airflow db check-migrations --migration-wait-timeout 600"
}

# ---- Foundations: key, network, alerting -------------------------------------------

module "kms" {
  source = "./modules/kms"

  name                    = local.name
  deletion_window_in_days = var.kms_deletion_window_days
  tags                    = local.tags
}

module "vpc" {
  source = "./modules/vpc"

  name                    = local.name
  cidr_block              = var.vpc_cidr
  availability_zones      = slice(data.aws_availability_zones.available.names, 0, var.availability_zone_count)
  single_nat_gateway      = var.single_nat_gateway
  enable_flow_logs        = var.enable_vpc_flow_logs
  flow_log_retention_days = var.log_retention_days
  kms_key_arn             = module.kms.key_arn
  tags                    = local.tags
}

module "security" {
  source = "./modules/security"

  name                = local.name
  vpc_id              = module.vpc.vpc_id
  ingress_cidr_blocks = var.ingress_cidr_blocks
  admin_cidr_blocks   = var.admin_cidr_blocks
  api_port            = 8000
  mlflow_port         = 5000
  airflow_port        = 8080
  tags                = local.tags
}

module "sns" {
  source = "./modules/sns"

  name            = "${local.name}-alerts"
  email_addresses = var.alert_email_addresses
  kms_key_arn     = module.kms.key_arn
  tags            = local.tags
}

# ---- Storage ---------------------------------------------------------------------------

module "s3" {
  source = "./modules/s3"

  # Bucket names are global: the account ID keeps them unique.
  data_bucket_name                   = "${local.name}-data-${local.account_id}"
  artifacts_bucket_name              = "${local.name}-mlflow-artifacts-${local.account_id}"
  logs_bucket_name                   = "${local.name}-logs-${local.account_id}"
  kms_key_arn                        = module.kms.key_arn
  archive_transition_days            = var.s3_archive_transition_days
  archive_storage_class              = var.s3_archive_storage_class
  noncurrent_version_expiration_days = var.s3_noncurrent_version_expiration_days
  logs_expiration_days               = var.log_retention_days
  force_destroy                      = var.s3_force_destroy
  tags                               = local.tags
}

module "ecr" {
  source = "./modules/ecr"

  repository_names     = values(local.repositories)
  create               = var.create_ecr_repositories
  image_tag_mutability = "IMMUTABLE"
  max_tagged_images    = var.ecr_max_tagged_images
  untagged_expiry_days = 7
  kms_key_arn          = module.kms.key_arn
  force_delete         = var.s3_force_destroy
  tags                 = local.tags
}

# ---- Secrets -------------------------------------------------------------------------
# Generated once and kept in the (encrypted) state and Secrets Manager. Letters and
# digits only, so they can sit in connection URIs without escaping.

resource "random_password" "db_master" {
  length  = 32
  special = false
}

resource "random_password" "mlflow_db" {
  length  = 32
  special = false
}

resource "random_password" "airflow_db" {
  length  = 32
  special = false
}

resource "random_password" "cases_db" {
  length  = 32
  special = false
}

resource "random_password" "redis_auth" {
  length  = 48
  special = false
}

resource "random_password" "api_key" {
  length  = 40
  special = false
}

resource "random_password" "admin_api_key" {
  length  = 40
  special = false
}

resource "random_password" "console_secret" {
  length  = 48
  special = false
}

resource "random_password" "airflow_admin" {
  length  = 24
  special = false
}

resource "random_password" "airflow_api_secret" {
  length  = 48
  special = false
}

resource "random_password" "airflow_jwt_secret" {
  length  = 48
  special = false
}

# A Fernet key is 32 random bytes in URL-safe base64 with its padding.
resource "random_id" "airflow_fernet" {
  byte_length = 32
}

locals {
  db_host = module.rds.address
  redis   = module.elasticache.primary_endpoint

  secret_descriptions = {
    "db-master-password"       = "Master password of the RDS instance (db-init task only)"
    "mlflow-db-password"       = "Password of the mlflow database role"
    "airflow-db-password"      = "Password of the airflow database role"
    "cases-db-password"        = "Password of the cases database role (review queue)"
    "cases-url"                = "Case store URI of the API's review queue (PostgreSQL, TLS)"
    "mlflow-backend-store-uri" = "MLflow backend store URI (PostgreSQL, TLS)"
    "airflow-sql-alchemy-conn" = "Airflow metadata database URI (PostgreSQL, TLS)"
    "airflow-fernet-key"       = "Airflow Fernet key (encrypts connections and variables)"
    "airflow-api-secret-key"   = "Airflow API server session secret"
    "airflow-jwt-secret"       = "Airflow JWT secret shared by the API server and the task runners"
    "airflow-admin-password"   = "Password of the Airflow UI admin"
    "api-key"                  = "fraudops API key (X-API-Key for /v1/*)"
    "admin-api-key"            = "fraudops admin API key (X-API-Key for /admin/*)"
    "console-secret"           = "Signs the analyst console's session cookies and CSRF tokens"
    "online-store-uri"         = "Redis URI of the online feature store (TLS + AUTH)"
  }
  secret_values = {
    "db-master-password"       = random_password.db_master.result
    "mlflow-db-password"       = random_password.mlflow_db.result
    "airflow-db-password"      = random_password.airflow_db.result
    "cases-db-password"        = random_password.cases_db.result
    "cases-url"                = "postgresql+psycopg2://cases:${random_password.cases_db.result}@${local.db_host}:5432/cases?sslmode=require"
    "mlflow-backend-store-uri" = "postgresql+psycopg2://mlflow:${random_password.mlflow_db.result}@${local.db_host}:5432/mlflow?sslmode=require"
    "airflow-sql-alchemy-conn" = "postgresql+psycopg2://airflow:${random_password.airflow_db.result}@${local.db_host}:5432/airflow?sslmode=require"
    "airflow-fernet-key"       = "${random_id.airflow_fernet.b64_url}="
    "airflow-api-secret-key"   = random_password.airflow_api_secret.result
    "airflow-jwt-secret"       = random_password.airflow_jwt_secret.result
    "airflow-admin-password"   = random_password.airflow_admin.result
    "api-key"                  = random_password.api_key.result
    "admin-api-key"            = random_password.admin_api_key.result
    "console-secret"           = random_password.console_secret.result
    "online-store-uri"         = "rediss://:${random_password.redis_auth.result}@${local.redis}:6379/0"
  }
}

module "secrets" {
  source = "./modules/secrets"

  name                    = local.name
  descriptions            = local.secret_descriptions
  values                  = local.secret_values
  kms_key_arn             = module.kms.key_arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = local.tags
}

# ---- Databases ---------------------------------------------------------------------

module "rds" {
  source = "./modules/rds"

  identifier                   = local.name
  engine_version               = var.db_engine_version
  instance_class               = var.db_instance_class
  allocated_storage            = var.db_allocated_storage_gb
  max_allocated_storage        = var.db_max_allocated_storage_gb
  username                     = var.db_master_username
  password                     = random_password.db_master.result
  multi_az                     = var.db_multi_az
  backup_retention_days        = var.db_backup_retention_days
  deletion_protection          = var.db_deletion_protection
  skip_final_snapshot          = var.db_skip_final_snapshot
  performance_insights_enabled = var.db_performance_insights_enabled
  monitoring_interval          = var.db_monitoring_interval_seconds
  log_retention_days           = var.log_retention_days
  subnet_ids                   = module.vpc.private_subnet_ids
  security_group_ids           = [module.security.database_security_group_id]
  kms_key_arn                  = module.kms.key_arn
  tags                         = local.tags
}

locals {
  # the online store's Redis: its replication group and its alarms name it alike
  redis_group_id = "${local.name}-features"
}

module "elasticache" {
  source = "./modules/elasticache"

  name                    = local.redis_group_id
  node_type               = var.redis_node_type
  engine_version          = var.redis_engine_version
  num_cache_clusters      = var.redis_num_cache_nodes
  auth_token              = random_password.redis_auth.result
  snapshot_retention_days = var.redis_snapshot_retention_days
  log_retention_days      = var.log_retention_days
  subnet_ids              = module.vpc.private_subnet_ids
  security_group_ids      = [module.security.redis_security_group_id]
  kms_key_arn             = module.kms.key_arn
  tags                    = local.tags
}

# ---- Load balancer, logs, alarms, roles --------------------------------------------

module "alb" {
  source = "./modules/alb"

  name                = local.name
  vpc_id              = module.vpc.vpc_id
  subnet_ids          = module.vpc.public_subnet_ids
  security_group_ids  = [module.security.alb_security_group_id]
  certificate_arn     = var.certificate_arn
  deletion_protection = var.alb_deletion_protection
  idle_timeout        = var.alb_idle_timeout_seconds
  access_logs_bucket  = module.s3.logs_bucket_name
  access_logs_prefix  = module.s3.alb_log_prefix
  blocked_paths       = ["/metrics", "/metrics/*"]
  target_groups = {
    api = {
      port              = 8000
      health_check_path = var.api_health_check_path
    }
    mlflow = {
      port              = 5000
      health_check_path = "/health"
      listener_port     = 5000
    }
    airflow = {
      port              = 8080
      health_check_path = "/api/v2/monitor/health"
      listener_port     = 8080
    }
  }
  tags = local.tags
}

module "cloudwatch" {
  source = "./modules/cloudwatch"

  name = local.name
  services = {
    api = {
      service_name            = local.service_names["api"]
      target_group_arn_suffix = module.alb.target_group_arn_suffixes["api"]
      http_alarms             = true
    }
    mlflow = {
      service_name            = local.service_names["mlflow"]
      target_group_arn_suffix = module.alb.target_group_arn_suffixes["mlflow"]
    }
    airflow-api-server = {
      service_name            = local.service_names["airflow-api-server"]
      target_group_arn_suffix = module.alb.target_group_arn_suffixes["airflow"]
    }
    airflow-scheduler = {
      service_name = local.service_names["airflow-scheduler"]
    }
    airflow-dag-processor = {
      service_name = local.service_names["airflow-dag-processor"]
    }
  }
  extra_log_groups                = ["db-init"]
  cluster_name                    = module.ecs.cluster_name
  alb_arn_suffix                  = module.alb.arn_suffix
  database_instance_id            = module.rds.instance_id
  redis_replication_group_id      = local.redis_group_id
  redis_nodes                     = var.redis_num_cache_nodes
  alarm_topic_arn                 = module.sns.topic_arn
  kms_key_arn                     = module.kms.key_arn
  log_retention_days              = var.log_retention_days
  cpu_threshold_percent           = var.alarm_cpu_threshold_percent
  memory_threshold_percent        = var.alarm_memory_threshold_percent
  http_5xx_rate_threshold_percent = var.alarm_5xx_rate_threshold_percent
  latency_p99_threshold_seconds   = var.alarm_latency_p99_seconds
  tags                            = local.tags
}

# Production's deploy role trusts only jobs of the GitHub `production` environment (its
# required reviewers are the approval gate); staging's also trusts `main`, whose image
# job pushes to the shared repositories outside any environment.
module "github_oidc_subjects" {
  source = "./modules/github-oidc-subjects"

  repository  = var.github_repository
  environment = var.environment
  branch      = var.environment == "production" ? null : "main"
}

module "iam" {
  source = "./modules/iam"

  name = local.name
  services = {
    api = {
      secret_arns            = values(local.fraudops_secrets)
      read_write_bucket_arns = [module.s3.data_bucket_arn]
      log_group_arns         = [module.cloudwatch.log_group_arns["api"]]
    }
    mlflow = {
      secret_arns            = [module.secrets.arns["mlflow-backend-store-uri"]]
      read_write_bucket_arns = [module.s3.artifacts_bucket_arn]
      log_group_arns         = [module.cloudwatch.log_group_arns["mlflow"]]
    }
    airflow = {
      secret_arns            = concat(values(local.airflow_secrets), [module.secrets.arns["airflow-admin-password"]])
      read_write_bucket_arns = [module.s3.data_bucket_arn]
      log_group_arns = [
        module.cloudwatch.log_group_arns["airflow-api-server"],
        module.cloudwatch.log_group_arns["airflow-scheduler"],
        module.cloudwatch.log_group_arns["airflow-dag-processor"],
      ]
    }
    db-init = {
      secret_arns = [
        module.secrets.arns["db-master-password"],
        module.secrets.arns["mlflow-db-password"],
        module.secrets.arns["airflow-db-password"],
        module.secrets.arns["cases-db-password"],
      ]
      read_write_bucket_arns = []
      log_group_arns         = [module.cloudwatch.log_group_arns["db-init"]]
    }
  }
  ecr_repository_arns         = values(module.ecr.repository_arns)
  kms_key_arn                 = module.kms.key_arn
  enable_execute_command      = var.enable_execute_command
  exec_log_group_arn          = module.ecs.exec_log_group_arn
  cluster_name                = module.ecs.cluster_name
  github_repository           = var.github_repository
  github_subjects             = module.github_oidc_subjects.subjects
  create_github_oidc_provider = var.create_github_oidc_provider
  codedeploy_applications     = var.api_blue_green ? [local.service_names["api"]] : []
  smoke_test_secret_arns      = [module.secrets.arns["api-key"]]
  tags                        = local.tags
}

# ---- Spark past one machine (optional) -------------------------------------------------

# EMR Serverless for `fraudops features build --engine spark` and `fraudops score --engine
# spark` on data one task cannot hold; see DEPLOYMENT_GUIDE.md, "Past one machine: Spark".
module "emr_serverless" {
  source = "./modules/emr-serverless"
  count  = var.enable_emr_serverless ? 1 : 0

  name                 = "${local.name}-spark"
  release_label        = var.emr_serverless_release_label
  max_vcpu             = var.emr_serverless_max_vcpu
  max_memory_gb        = var.emr_serverless_max_memory_gb
  idle_timeout_minutes = 15
  subnet_ids           = module.vpc.private_subnet_ids
  security_group_ids   = [module.security.airflow_workers_security_group_id]
  image_uri            = var.emr_serverless_image_uri
  data_bucket_arn      = module.s3.data_bucket_arn
  logs_bucket_name     = module.s3.logs_bucket_name
  kms_key_arn          = module.kms.key_arn
  tags                 = local.tags
}

# ---- Compute ---------------------------------------------------------------------------

module "ecs" {
  source = "./modules/ecs"

  name                        = local.name
  vpc_id                      = module.vpc.vpc_id
  service_discovery_namespace = local.namespace
  container_insights          = var.container_insights
  enable_fargate_spot         = var.ecs_use_fargate_spot
  kms_key_arn                 = module.kms.key_arn
  log_retention_days          = var.log_retention_days
  tags                        = local.tags
}

locals {
  # The API's idle connections outlive the load balancer's own idle timeout, so it never
  # sends a request on a connection the API is closing (a 502).
  api_environment = merge(local.fraudops_environment, { FRAUDOPS_KEEP_ALIVE_SECONDS = tostring(var.alb_idle_timeout_seconds + 5) })
}

module "api_sizing" {
  source = "./modules/api-sizing"

  requests_per_vcpu        = var.api_requests_per_vcpu
  task_cpu                 = var.api_cpu
  cpu_target_percent       = var.api_cpu_target_percent
  peak_requests_per_second = var.api_peak_requests_per_second
  min_count                = var.api_min_count
  max_count                = var.api_max_count
}

module "api_service" {
  source = "./modules/ecs-service"

  name           = local.service_names["api"]
  container_name = "api"
  cluster_arn    = module.ecs.cluster_arn
  cluster_name   = module.ecs.cluster_name
  image          = local.images["api"]
  cpu            = var.api_cpu
  memory         = var.api_memory
  container_port = 8000
  # only the load balancer reaches the tasks (security group): trusting X-Forwarded-For
  # from inside the VPC gives the failed-authentication limit each caller's own address
  environment                = merge(local.api_environment, { FORWARDED_ALLOW_IPS = var.vpc_cidr })
  secrets                    = local.fraudops_secrets
  execution_role_arn         = module.iam.execution_role_arns["api"]
  task_role_arn              = module.iam.task_role_arns["api"]
  subnet_ids                 = module.vpc.private_subnet_ids
  security_group_ids         = [module.security.api_security_group_id]
  log_group_name             = module.cloudwatch.log_group_names["api"]
  aws_region                 = var.aws_region
  desired_count              = var.api_min_count
  capacity_provider_strategy = local.capacity_provider_strategy
  target_group_arn           = module.alb.target_group_arns["api"]
  deployment_controller      = var.api_blue_green ? "CODE_DEPLOY" : "ECS"
  # Model loading happens at start-up: give it time before health checks count.
  health_check_grace_period_seconds = 120
  # SIGTERM: 20 s of draining (FRAUDOPS_DRAIN_SECONDS, longer than the target group's
  # 15 s health-check interval), then up to 10 s for requests in flight and 10 s for
  # connections just accepted, then the logs are flushed.
  stop_timeout = 60
  container_health_check = {
    command = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=4)"]
  }
  readonly_root_filesystem       = var.ecs_readonly_root_filesystem
  scratch_paths                  = var.ecs_readonly_root_filesystem ? ["/tmp", "/var/lib/fraudops"] : []
  enable_execute_command         = var.enable_execute_command
  service_discovery_namespace_id = module.ecs.service_discovery_namespace_id
  enable_autoscaling             = true
  min_capacity                   = var.api_min_count
  max_capacity                   = module.api_sizing.max_count
  cpu_target_percent             = var.api_cpu_target_percent
  memory_target_percent          = var.api_memory_target_percent
  tags                           = local.tags

  # Tasks read their secrets at start: wait until every value is written.
  depends_on = [module.secrets]
}

module "mlflow_service" {
  source = "./modules/ecs-service"

  name           = local.service_names["mlflow"]
  container_name = "mlflow"
  cluster_arn    = module.ecs.cluster_arn
  cluster_name   = module.ecs.cluster_name
  image          = local.images["mlflow"]
  cpu            = var.mlflow_cpu
  memory         = var.mlflow_memory
  container_port = 5000
  environment = {
    MLFLOW_ARTIFACTS_DESTINATION = "s3://${module.s3.artifacts_bucket_name}/mlflow"
    # Host headers MLflow accepts (DNS-rebinding protection): its service name, the
    # load balancer's names, and loopback for the container health check.
    MLFLOW_SERVER_ALLOWED_HOSTS = join(",", distinct([
      "mlflow.${local.namespace}", "mlflow.${local.namespace}:5000",
      module.alb.dns_name, "${module.alb.dns_name}:5000",
      local.public_host, "${local.public_host}:5000",
      "localhost", "localhost:*", "127.0.0.1", "127.0.0.1:*",
    ]))
    AWS_DEFAULT_REGION = var.aws_region
  }
  secrets = {
    MLFLOW_BACKEND_STORE_URI = module.secrets.arns["mlflow-backend-store-uri"]
  }
  execution_role_arn         = module.iam.execution_role_arns["mlflow"]
  task_role_arn              = module.iam.task_role_arns["mlflow"]
  subnet_ids                 = module.vpc.private_subnet_ids
  security_group_ids         = [module.security.mlflow_security_group_id]
  log_group_name             = module.cloudwatch.log_group_names["mlflow"]
  aws_region                 = var.aws_region
  desired_count              = var.mlflow_desired_count
  capacity_provider_strategy = local.capacity_provider_strategy
  target_group_arn           = module.alb.target_group_arns["mlflow"]
  container_health_check = {
    command = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=4)"]
  }
  readonly_root_filesystem       = var.ecs_readonly_root_filesystem
  scratch_paths                  = var.ecs_readonly_root_filesystem ? ["/tmp", "/home/mlflow"] : []
  enable_execute_command         = var.enable_execute_command
  service_discovery_namespace_id = module.ecs.service_discovery_namespace_id
  tags                           = local.tags

  # Tasks read their secrets at start: wait until every value is written.
  depends_on = [module.secrets]
}

module "airflow_api_server_service" {
  source = "./modules/ecs-service"

  name           = local.service_names["airflow-api-server"]
  container_name = "airflow-api-server"
  cluster_arn    = module.ecs.cluster_arn
  cluster_name   = module.ecs.cluster_name
  image          = local.images["airflow"]
  cpu            = var.airflow_api_server_cpu
  memory         = var.airflow_api_server_memory
  container_port = 8080
  entrypoint     = ["bash", "-c"]
  command        = [file("${path.module}/files/airflow_api_server.sh")]
  environment    = merge(local.airflow_environment, { AIRFLOW_ADMIN_USER = var.airflow_admin_username })
  secrets = merge(local.airflow_secrets, {
    AIRFLOW_ADMIN_PASSWORD = module.secrets.arns["airflow-admin-password"]
  })
  execution_role_arn                = module.iam.execution_role_arns["airflow"]
  task_role_arn                     = module.iam.task_role_arns["airflow"]
  subnet_ids                        = module.vpc.private_subnet_ids
  security_group_ids                = [module.security.airflow_web_security_group_id]
  log_group_name                    = module.cloudwatch.log_group_names["airflow-api-server"]
  aws_region                        = var.aws_region
  desired_count                     = 1
  capacity_provider_strategy        = local.capacity_provider_strategy
  target_group_arn                  = module.alb.target_group_arns["airflow"]
  health_check_grace_period_seconds = 300
  container_health_check = {
    command      = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/api/v2/monitor/health', timeout=8)"]
    timeout      = 10
    start_period = 180
  }
  readonly_root_filesystem       = var.ecs_readonly_root_filesystem
  scratch_paths                  = var.ecs_readonly_root_filesystem ? ["/tmp", "/opt/airflow"] : []
  enable_execute_command         = var.enable_execute_command
  service_discovery_namespace_id = module.ecs.service_discovery_namespace_id
  tags                           = local.tags

  # Tasks read their secrets at start: wait until every value is written.
  depends_on = [module.secrets]
}

module "airflow_scheduler_service" {
  source = "./modules/ecs-service"

  name               = local.service_names["airflow-scheduler"]
  container_name     = "airflow-scheduler"
  cluster_arn        = module.ecs.cluster_arn
  cluster_name       = module.ecs.cluster_name
  image              = local.images["airflow"]
  cpu                = var.airflow_scheduler_cpu
  memory             = var.airflow_scheduler_memory
  entrypoint         = ["bash", "-c"]
  command            = ["${local.wait_for_migrations} && exec airflow scheduler"]
  environment        = local.airflow_environment
  secrets            = local.airflow_secrets
  execution_role_arn = module.iam.execution_role_arns["airflow"]
  task_role_arn      = module.iam.task_role_arns["airflow"]
  subnet_ids         = module.vpc.private_subnet_ids
  security_group_ids = [module.security.airflow_workers_security_group_id]
  log_group_name     = module.cloudwatch.log_group_names["airflow-scheduler"]
  aws_region         = var.aws_region
  desired_count      = 1
  # Training runs inside the scheduler task (LocalExecutor): never on Spot, and stop
  # the old task before starting the new one so two schedulers never run the same DAGs.
  capacity_provider_strategy         = [{ capacity_provider = "FARGATE", weight = 1, base = 0 }]
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100
  stop_timeout                       = 120
  container_health_check = {
    command      = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8974/health', timeout=8)"]
    timeout      = 10
    start_period = 300
  }
  readonly_root_filesystem = var.ecs_readonly_root_filesystem
  scratch_paths            = var.ecs_readonly_root_filesystem ? ["/tmp", "/opt/airflow", "/var/lib/fraudops"] : []
  enable_execute_command   = var.enable_execute_command
  tags                     = local.tags

  # Tasks read their secrets at start: wait until every value is written.
  depends_on = [module.secrets]
}

module "airflow_dag_processor_service" {
  source = "./modules/ecs-service"

  name                       = local.service_names["airflow-dag-processor"]
  container_name             = "airflow-dag-processor"
  cluster_arn                = module.ecs.cluster_arn
  cluster_name               = module.ecs.cluster_name
  image                      = local.images["airflow"]
  cpu                        = var.airflow_dag_processor_cpu
  memory                     = var.airflow_dag_processor_memory
  entrypoint                 = ["bash", "-c"]
  command                    = ["${local.wait_for_migrations} && exec airflow dag-processor"]
  environment                = local.airflow_environment
  secrets                    = local.airflow_secrets
  execution_role_arn         = module.iam.execution_role_arns["airflow"]
  task_role_arn              = module.iam.task_role_arns["airflow"]
  subnet_ids                 = module.vpc.private_subnet_ids
  security_group_ids         = [module.security.airflow_workers_security_group_id]
  log_group_name             = module.cloudwatch.log_group_names["airflow-dag-processor"]
  aws_region                 = var.aws_region
  desired_count              = 1
  capacity_provider_strategy = local.capacity_provider_strategy
  container_health_check = {
    command      = ["CMD-SHELL", "airflow jobs check --job-type DagProcessorJob --local"]
    timeout      = 30
    start_period = 300
  }
  readonly_root_filesystem = var.ecs_readonly_root_filesystem
  scratch_paths            = var.ecs_readonly_root_filesystem ? ["/tmp", "/opt/airflow"] : []
  enable_execute_command   = var.enable_execute_command
  tags                     = local.tags

  # Tasks read their secrets at start: wait until every value is written.
  depends_on = [module.secrets]
}

# ---- One-off database initialisation -------------------------------------------------
# Creates the mlflow and airflow roles and databases. Run it once after the first apply
# (the command is in the db_init_run_task_command output) and after restoring a
# database from a snapshot taken before it ran.

resource "aws_ecs_task_definition" "db_init" {
  family                   = "${local.name}-db-init"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = module.iam.execution_role_arns["db-init"]
  task_role_arn            = module.iam.task_role_arns["db-init"]

  container_definitions = jsonencode([{
    name                   = "db-init"
    image                  = local.images["airflow"]
    essential              = true
    readonlyRootFilesystem = true
    entryPoint             = ["python", "-c"]
    command                = [file("${path.module}/files/db_init.py")]
    environment = [
      { name = "PGHOST", value = module.rds.address },
      { name = "PGPORT", value = tostring(module.rds.port) },
      { name = "PGUSER", value = module.rds.username },
    ]
    secrets = [
      { name = "PGPASSWORD", valueFrom = module.secrets.arns["db-master-password"] },
      { name = "MLFLOW_DB_PASSWORD", valueFrom = module.secrets.arns["mlflow-db-password"] },
      { name = "AIRFLOW_DB_PASSWORD", valueFrom = module.secrets.arns["airflow-db-password"] },
      { name = "CASES_DB_PASSWORD", valueFrom = module.secrets.arns["cases-db-password"] },
    ]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = module.cloudwatch.log_group_names["db-init"]
        awslogs-region        = var.aws_region
        awslogs-stream-prefix = "db-init"
      }
    }
  }])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  tags = local.tags
}
