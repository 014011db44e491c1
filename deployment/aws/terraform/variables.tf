# Root variables. Every one has a type and a description; validations reject values
# AWS would refuse late in an apply. terraform.tfvars.example shows the dev, staging
# and production profiles.

# ---- Naming and placement ----------------------------------------------------------

variable "project_name" {
  type        = string
  description = "Prefix of every resource name; with environment it forms <project>-<environment> (for example fraudops-staging)."
  default     = "fraudops"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.project_name))
    error_message = "project_name must be 2-16 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "environment" {
  type        = string
  description = "Environment this state describes: dev, staging or production."

  validation {
    condition     = contains(["dev", "staging", "production"], var.environment)
    error_message = "environment must be dev, staging or production."
  }
}

variable "aws_region" {
  type        = string
  description = "AWS region of every resource, for example eu-west-1."
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must be a region code such as eu-west-1 or us-east-1."
  }
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for every resource (Project, Environment and ManagedBy are always added)."
  default     = {}
}

# ---- Network ---------------------------------------------------------------------------

variable "vpc_cidr" {
  type        = string
  description = "IPv4 CIDR of the VPC (/16 to /20); private subnets take three quarters, public ones the rest."
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be a valid IPv4 CIDR between /16 and /20."
  }
}

variable "availability_zone_count" {
  type        = number
  description = "Availability zones to spread subnets, NAT gateways and replicas over."
  default     = 2

  validation {
    condition     = var.availability_zone_count >= 2 && var.availability_zone_count <= 3
    error_message = "availability_zone_count must be 2 or 3 (the load balancer and RDS need two zones)."
  }
}

variable "single_nat_gateway" {
  type        = bool
  description = "One shared NAT gateway (about $33/month less per zone) instead of one per zone; a zone outage then cuts egress for all tasks."
  default     = false
}

variable "enable_vpc_flow_logs" {
  type        = bool
  description = "Record VPC flow logs in CloudWatch Logs (security forensics; costs per GB ingested)."
  default     = true
}

variable "ingress_cidr_blocks" {
  type        = list(string)
  description = "CIDRs allowed to call the API through the load balancer (80/443)."
  default     = ["0.0.0.0/0"]

  validation {
    condition     = length(var.ingress_cidr_blocks) > 0 && alltrue([for cidr in var.ingress_cidr_blocks : can(cidrhost(cidr, 0))])
    error_message = "ingress_cidr_blocks needs at least one valid IPv4 CIDR."
  }
}

variable "admin_cidr_blocks" {
  type        = list(string)
  description = "CIDRs allowed to open the MLflow (port 5000) and Airflow (port 8080) UIs; empty keeps them closed."
  default     = []

  validation {
    condition     = alltrue([for cidr in var.admin_cidr_blocks : can(cidrhost(cidr, 0)) && cidr != "0.0.0.0/0"])
    error_message = "admin_cidr_blocks must be valid IPv4 CIDRs and must not be 0.0.0.0/0 (MLflow has no login of its own)."
  }
}

# ---- Load balancer and TLS ---------------------------------------------------------

variable "certificate_arn" {
  type        = string
  description = "ACM certificate (same region) for HTTPS on every listener; null serves plain HTTP, for dev only."
  default     = null

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "public_hostname" {
  type        = string
  description = "DNS name you point at the load balancer (matches the certificate); null uses the load balancer's own name in URLs."
  default     = null

  validation {
    condition     = var.public_hostname == null || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.public_hostname))
    error_message = "public_hostname must be a lowercase DNS name such as fraud.example.com."
  }
}

variable "alb_deletion_protection" {
  type        = bool
  description = "Refuse to delete the load balancer until this is turned off."
  default     = true
}

variable "alb_idle_timeout_seconds" {
  type        = number
  description = "Seconds an idle client connection is kept open by the load balancer."
  default     = 60

  validation {
    condition     = var.alb_idle_timeout_seconds >= 1 && var.alb_idle_timeout_seconds <= 4000
    error_message = "alb_idle_timeout_seconds must be between 1 and 4000."
  }
}

# ---- Storage -----------------------------------------------------------------------

variable "s3_archive_transition_days" {
  type        = number
  description = "Days after which data and artifact objects move to the archive storage class."
  default     = 90

  validation {
    condition     = var.s3_archive_transition_days >= 30
    error_message = "s3_archive_transition_days must be at least 30."
  }
}

variable "s3_archive_storage_class" {
  type        = string
  description = "Archive class for old objects: GLACIER_IR stays instantly readable (training can re-read history), GLACIER/DEEP_ARCHIVE need a restore."
  default     = "GLACIER_IR"

  validation {
    condition     = contains(["GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"], var.s3_archive_storage_class)
    error_message = "s3_archive_storage_class must be GLACIER_IR, GLACIER or DEEP_ARCHIVE."
  }
}

variable "s3_noncurrent_version_expiration_days" {
  type        = number
  description = "Days replaced or deleted object versions are kept (the undo window for data)."
  default     = 90

  validation {
    condition     = var.s3_noncurrent_version_expiration_days > 30
    error_message = "s3_noncurrent_version_expiration_days must be above 30."
  }
}

variable "s3_force_destroy" {
  type        = bool
  description = "Let terraform destroy empty and delete non-empty buckets and image repositories (throw-away environments only)."
  default     = false
}

# ---- PostgreSQL (RDS) --------------------------------------------------------------

variable "db_instance_class" {
  type        = string
  description = "RDS instance class of the PostgreSQL that holds the MLflow and Airflow metadata."
  default     = "db.t4g.small"

  validation {
    condition     = startswith(var.db_instance_class, "db.")
    error_message = "db_instance_class must be an RDS class such as db.t4g.small."
  }
}

variable "db_engine_version" {
  type        = string
  description = "PostgreSQL version: a major (\"15\") takes minor upgrades automatically, a full version (\"15.8\") pins it."
  default     = "15"

  validation {
    condition     = can(regex("^1[4-7](\\.[0-9]+)?$", var.db_engine_version))
    error_message = "db_engine_version must be a PostgreSQL major 14-17, optionally with a minor."
  }
}

variable "db_allocated_storage_gb" {
  type        = number
  description = "Initial gp3 storage of the database in GiB."
  default     = 20

  validation {
    condition     = var.db_allocated_storage_gb >= 20 && var.db_allocated_storage_gb <= 65536
    error_message = "db_allocated_storage_gb must be between 20 and 65536."
  }
}

variable "db_max_allocated_storage_gb" {
  type        = number
  description = "Storage autoscaling ceiling in GiB (0 turns storage autoscaling off)."
  default     = 100

  validation {
    condition     = var.db_max_allocated_storage_gb == 0 || var.db_max_allocated_storage_gb >= 20
    error_message = "db_max_allocated_storage_gb must be 0 or at least 20."
  }
}

variable "db_multi_az" {
  type        = bool
  description = "Synchronous standby in another zone with automatic failover (doubles the instance cost)."
  default     = true
}

variable "db_backup_retention_days" {
  type        = number
  description = "Days of automated backups for point-in-time restore."
  default     = 7

  validation {
    condition     = var.db_backup_retention_days >= 1 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be between 1 and 35."
  }
}

variable "db_deletion_protection" {
  type        = bool
  description = "Refuse to delete the database until this is turned off."
  default     = true
}

variable "db_skip_final_snapshot" {
  type        = bool
  description = "Delete the database without a final snapshot (throw-away environments only)."
  default     = false
}

variable "db_performance_insights_enabled" {
  type        = bool
  description = "Performance Insights on the database (7 days of history are free; not offered on the smallest burstable classes such as db.t4g.micro and db.t4g.small)."
  default     = true
}

variable "db_monitoring_interval_seconds" {
  type        = number
  description = "Enhanced Monitoring interval (0 turns it off)."
  default     = 60

  validation {
    condition     = contains([0, 1, 5, 10, 15, 30, 60], var.db_monitoring_interval_seconds)
    error_message = "db_monitoring_interval_seconds must be one of 0, 1, 5, 10, 15, 30, 60."
  }
}

variable "db_master_username" {
  type        = string
  description = "Master user of the database; MLflow and Airflow get their own login roles from the db-init task."
  default     = "fraudops_admin"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.db_master_username)) && !contains(["admin", "postgres", "rdsadmin", "mlflow", "airflow"], var.db_master_username)
    error_message = "db_master_username must be a lowercase identifier and not a reserved or application role name."
  }
}

# ---- Redis (ElastiCache) -----------------------------------------------------------

variable "redis_node_type" {
  type        = string
  description = "ElastiCache node type of the online feature store."
  default     = "cache.t4g.small"

  validation {
    condition     = startswith(var.redis_node_type, "cache.")
    error_message = "redis_node_type must be an ElastiCache node type such as cache.t4g.small."
  }
}

variable "redis_engine_version" {
  type        = string
  description = "Redis OSS engine version."
  default     = "7.1"

  validation {
    condition     = contains(["7.0", "7.1"], var.redis_engine_version)
    error_message = "redis_engine_version must be 7.0 or 7.1."
  }
}

variable "redis_num_cache_nodes" {
  type        = number
  description = "Redis nodes: 1 is a lone primary, 2 or more adds replicas with Multi-AZ failover."
  default     = 2

  validation {
    condition     = var.redis_num_cache_nodes >= 1 && var.redis_num_cache_nodes <= 6
    error_message = "redis_num_cache_nodes must be between 1 and 6."
  }
}

variable "redis_snapshot_retention_days" {
  type        = number
  description = "Days of daily Redis snapshots (online features can be rebuilt, so a day is plenty)."
  default     = 1

  validation {
    condition     = var.redis_snapshot_retention_days >= 0 && var.redis_snapshot_retention_days <= 35
    error_message = "redis_snapshot_retention_days must be between 0 and 35."
  }
}

# ---- Images and ECS ----------------------------------------------------------------

variable "image_tag" {
  type        = string
  description = "Image tag Terraform puts in the task definitions it registers (the CD workflow deploys newer ones); use the commit SHA you pushed."
  default     = "latest"

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag must be a valid Docker tag."
  }
}

variable "ecr_repository_prefix" {
  type        = string
  description = "Repositories are <prefix>-api, <prefix>-mlflow and <prefix>-airflow."
  default     = "fraudops"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._/-]{0,200}$", var.ecr_repository_prefix))
    error_message = "ecr_repository_prefix must be lowercase letters, digits and . _ / -."
  }
}

variable "create_ecr_repositories" {
  type        = bool
  description = "Create the ECR repositories in this state; false reuses those of another environment in the same account."
  default     = true
}

variable "ecr_max_tagged_images" {
  type        = number
  description = "Tagged images kept per repository before the oldest expire."
  default     = 50

  validation {
    condition     = var.ecr_max_tagged_images >= 5
    error_message = "ecr_max_tagged_images must be at least 5 (rollbacks need old images)."
  }
}

variable "ecs_use_fargate_spot" {
  type        = bool
  description = "Run tasks beyond the on-demand base on FARGATE_SPOT (about 70% cheaper, may be interrupted with two minutes' notice)."
  default     = false
}

variable "ecs_on_demand_base_count" {
  type        = number
  description = "Tasks of each service kept on regular FARGATE when Spot is on."
  default     = 1

  validation {
    condition     = var.ecs_on_demand_base_count >= 0
    error_message = "ecs_on_demand_base_count cannot be negative."
  }
}

variable "container_insights" {
  type        = string
  description = "Container Insights level of the cluster: enhanced, enabled or disabled (the service-down alarm needs enabled or enhanced)."
  default     = "enabled"

  validation {
    condition     = contains(["enhanced", "enabled", "disabled"], var.container_insights)
    error_message = "container_insights must be enhanced, enabled or disabled."
  }
}

variable "enable_execute_command" {
  type        = bool
  description = "Allow `aws ecs execute-command` shells into running tasks (sessions are logged and encrypted)."
  default     = false
}

variable "ecs_readonly_root_filesystem" {
  type        = bool
  description = "Read-only container root filesystems. The images run as uid 10001 and write under their home folders, so this needs images that declare those paths as VOLUMEs."
  default     = false
}

# ---- API service -------------------------------------------------------------------

variable "api_cpu" {
  type        = number
  description = "CPU units of one API task (1024 = 1 vCPU)."
  default     = 1024

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096], var.api_cpu)
    error_message = "api_cpu must be 256, 512, 1024, 2048 or 4096."
  }
}

variable "api_memory" {
  type        = number
  description = "Memory of one API task in MiB (a valid Fargate pairing with api_cpu)."
  default     = 2048

  validation {
    condition     = var.api_memory >= 512 && var.api_memory <= 30720
    error_message = "api_memory must be between 512 and 30720 MiB."
  }
}

variable "api_min_count" {
  type        = number
  description = "Fewest API tasks; two or more keep the API up through a task or zone failure."
  default     = 2

  validation {
    condition     = var.api_min_count >= 1
    error_message = "api_min_count must be at least 1."
  }
}

variable "api_max_count" {
  type        = number
  description = "Most API tasks autoscaling may run."
  default     = 6

  validation {
    condition     = var.api_max_count >= 1 && var.api_max_count <= 100
    error_message = "api_max_count must be between 1 and 100."
  }
}

variable "api_cpu_target_percent" {
  type        = number
  description = "Average CPU the API autoscaling keeps (target tracking). 70: a worker (one vCPU) serves R req/s (bench_serving.py: ~1,600 with the memory store, about a third of that with Redis), so a task runs at 0.7 x R x vCPUs and keeps 30 % for a burst while a new task starts (~2 min); tasks needed = peak req/s / (0.7 x R x vCPUs per task)."
  default     = 70

  validation {
    condition     = var.api_cpu_target_percent >= 10 && var.api_cpu_target_percent <= 95
    error_message = "api_cpu_target_percent must be between 10 and 95."
  }
}

variable "api_requests_per_vcpu" {
  type        = number
  description = "R of the sizing rule: single-transaction requests/s one API worker (one vCPU) serves. 500 is the planning figure for the Redis store (DEPLOYMENT_GUIDE.md, Sizing); measure yours with benchmarks/bench_serving.py."
  default     = 500

  validation {
    condition     = var.api_requests_per_vcpu > 0
    error_message = "api_requests_per_vcpu must be positive."
  }
}

variable "api_peak_requests_per_second" {
  type        = number
  description = "Expected peak scoring requests/s. When set (> 0) the autoscaling maximum is raised to the tasks the sizing rule needs: ceil(peak / (api_cpu_target_percent/100 x api_requests_per_vcpu x vCPUs per task)). 0 keeps api_max_count."
  default     = 0

  validation {
    condition     = var.api_peak_requests_per_second >= 0
    error_message = "api_peak_requests_per_second must not be negative."
  }
}

variable "api_memory_target_percent" {
  type        = number
  description = "Average memory the API autoscaling keeps (target tracking)."
  default     = 80

  validation {
    condition     = var.api_memory_target_percent >= 10 && var.api_memory_target_percent <= 95
    error_message = "api_memory_target_percent must be between 10 and 95."
  }
}

variable "api_health_check_path" {
  type        = string
  description = "Load balancer health check of the API: /health/ready (a task gets traffic only once it holds a model) or /health/live."
  default     = "/health/ready"

  validation {
    condition     = contains(["/health/ready", "/health/live"], var.api_health_check_path)
    error_message = "api_health_check_path must be /health/ready or /health/live."
  }
}

variable "model_name" {
  type        = string
  description = "Registered MLflow model the API serves (FRAUDOPS_MODEL_NAME)."
  default     = "fraud-detector"
}

variable "log_level" {
  type        = string
  description = "Log level of fraudops in the API and Airflow tasks (FRAUDOPS_LOG_LEVEL)."
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "model_reload_interval_seconds" {
  type        = number
  description = "How often the API polls the registry for a new champion (FRAUDOPS_RELOAD_INTERVAL_SECONDS; 0 disables)."
  default     = 30

  validation {
    condition     = var.model_reload_interval_seconds >= 0
    error_message = "model_reload_interval_seconds cannot be negative."
  }
}

variable "drift_share_threshold" {
  type        = number
  description = "Share of drifted features that triggers retraining (FRAUDOPS_DRIFT_SHARE_THRESHOLD)."
  default     = 0.2

  validation {
    condition     = var.drift_share_threshold >= 0 && var.drift_share_threshold <= 1
    error_message = "drift_share_threshold must be between 0 and 1."
  }
}

# ---- MLflow and Airflow services -----------------------------------------------------

variable "mlflow_cpu" {
  type        = number
  description = "CPU units of one MLflow task."
  default     = 512

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096], var.mlflow_cpu)
    error_message = "mlflow_cpu must be 256, 512, 1024, 2048 or 4096."
  }
}

variable "mlflow_memory" {
  type        = number
  description = "Memory of one MLflow task in MiB."
  default     = 1024

  validation {
    condition     = var.mlflow_memory >= 512 && var.mlflow_memory <= 30720
    error_message = "mlflow_memory must be between 512 and 30720 MiB."
  }
}

variable "mlflow_desired_count" {
  type        = number
  description = "MLflow tasks (the API keeps serving its loaded model while MLflow is down)."
  default     = 1

  validation {
    condition     = var.mlflow_desired_count >= 1 && var.mlflow_desired_count <= 10
    error_message = "mlflow_desired_count must be between 1 and 10."
  }
}

variable "airflow_api_server_cpu" {
  type        = number
  description = "CPU units of the Airflow API server task."
  default     = 1024

  validation {
    condition     = contains([512, 1024, 2048, 4096], var.airflow_api_server_cpu)
    error_message = "airflow_api_server_cpu must be 512, 1024, 2048 or 4096."
  }
}

variable "airflow_api_server_memory" {
  type        = number
  description = "Memory of the Airflow API server task in MiB."
  default     = 2048

  validation {
    condition     = var.airflow_api_server_memory >= 1024 && var.airflow_api_server_memory <= 30720
    error_message = "airflow_api_server_memory must be between 1024 and 30720 MiB."
  }
}

variable "airflow_scheduler_cpu" {
  type        = number
  description = "CPU units of the Airflow scheduler task, which also runs the DAG tasks (LocalExecutor): training needs most of it."
  default     = 2048

  validation {
    condition     = contains([1024, 2048, 4096, 8192, 16384], var.airflow_scheduler_cpu)
    error_message = "airflow_scheduler_cpu must be 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "airflow_scheduler_memory" {
  type        = number
  description = "Memory of the Airflow scheduler task in MiB (training data is held in memory)."
  default     = 8192

  validation {
    condition     = var.airflow_scheduler_memory >= 2048 && var.airflow_scheduler_memory <= 122880
    error_message = "airflow_scheduler_memory must be between 2048 and 122880 MiB."
  }
}

variable "airflow_dag_processor_cpu" {
  type        = number
  description = "CPU units of the Airflow DAG processor task."
  default     = 512

  validation {
    condition     = contains([256, 512, 1024, 2048], var.airflow_dag_processor_cpu)
    error_message = "airflow_dag_processor_cpu must be 256, 512, 1024 or 2048."
  }
}

variable "airflow_dag_processor_memory" {
  type        = number
  description = "Memory of the Airflow DAG processor task in MiB."
  default     = 1024

  validation {
    condition     = var.airflow_dag_processor_memory >= 512 && var.airflow_dag_processor_memory <= 16384
    error_message = "airflow_dag_processor_memory must be between 512 and 16384 MiB."
  }
}

variable "airflow_parallelism" {
  type        = number
  description = "Airflow tasks the scheduler runs at once (AIRFLOW__CORE__PARALLELISM); each holds memory and database connections in the scheduler task."
  default     = 4

  validation {
    condition     = var.airflow_parallelism >= 1 && var.airflow_parallelism <= 64
    error_message = "airflow_parallelism must be between 1 and 64."
  }
}

variable "airflow_admin_username" {
  type        = string
  description = "Login of the Airflow UI admin (the password is generated into Secrets Manager)."
  default     = "admin"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_.-]{0,63}$", var.airflow_admin_username))
    error_message = "airflow_admin_username must be a simple login name."
  }
}

# ---- Monitoring and alerting -------------------------------------------------------

variable "log_retention_days" {
  type        = number
  description = "Days CloudWatch keeps container, database, cache and flow logs."
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch retention value (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)."
  }
}

variable "alert_email_addresses" {
  type        = list(string)
  description = "Addresses that receive alarm notifications (each confirms a subscription e-mail)."
  default     = []

  validation {
    condition     = alltrue([for address in var.alert_email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", address))])
    error_message = "Every entry of alert_email_addresses must be an e-mail address."
  }
}

variable "alarm_cpu_threshold_percent" {
  type        = number
  description = "Service CPU above which an alarm fires (above the autoscaling target, so it means scaling is not enough)."
  default     = 85

  validation {
    condition     = var.alarm_cpu_threshold_percent > 0 && var.alarm_cpu_threshold_percent <= 100
    error_message = "alarm_cpu_threshold_percent must be in (0, 100]."
  }
}

variable "alarm_memory_threshold_percent" {
  type        = number
  description = "Service memory above which an alarm fires."
  default     = 90

  validation {
    condition     = var.alarm_memory_threshold_percent > 0 && var.alarm_memory_threshold_percent <= 100
    error_message = "alarm_memory_threshold_percent must be in (0, 100]."
  }
}

variable "alarm_5xx_rate_threshold_percent" {
  type        = number
  description = "Share of API requests answered 5xx above which an alarm fires."
  default     = 1

  validation {
    condition     = var.alarm_5xx_rate_threshold_percent > 0 && var.alarm_5xx_rate_threshold_percent <= 100
    error_message = "alarm_5xx_rate_threshold_percent must be in (0, 100]."
  }
}

variable "alarm_latency_p99_seconds" {
  type        = number
  description = "API p99 response time (seconds) above which an alarm fires."
  default     = 0.5

  validation {
    condition     = var.alarm_latency_p99_seconds > 0
    error_message = "alarm_latency_p99_seconds must be positive."
  }
}

# ---- Security and delivery ---------------------------------------------------------

variable "kms_deletion_window_days" {
  type        = number
  description = "Days before a scheduled deletion of the environment's KMS key takes effect."
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "secret_recovery_window_days" {
  type        = number
  description = "Days a deleted secret can be restored (0 deletes at once so a dev environment can be recreated)."
  default     = 30

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or between 7 and 30."
  }
}

variable "github_repository" {
  type        = string
  description = "GitHub repository (owner/name) whose CD workflow may deploy this environment through OIDC; null creates no deploy role."
  default     = null

  validation {
    condition     = var.github_repository == null || can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like owner/name."
  }
}

variable "create_github_oidc_provider" {
  type        = bool
  description = "Create the account's GitHub OIDC identity provider (once per account); false reuses the existing one."
  default     = true
}

# ---- Delivery: blue-green API deployments, notifications ------------------------------

variable "api_blue_green" {
  type        = bool
  description = "Deploy the API blue-green through CodeDeploy (test listener, smoke hooks, canary shift, alarm rollback) instead of rolling; needs certificate_arn. Switching replaces the API service once."
  default     = false
}

variable "api_traffic_shift" {
  type        = string
  description = "CodeDeploy configuration of a blue-green API deployment: canary or linear traffic shift (CodeDeployDefault.ECS...)."
  default     = "CodeDeployDefault.ECSCanary10Percent5Minutes"

  validation {
    condition     = can(regex("^CodeDeployDefault\\.ECS(Canary10Percent(5|15)Minutes|Linear10PercentEvery(1|3)Minutes|AllAtOnce)$", var.api_traffic_shift))
    error_message = "api_traffic_shift must be a predefined CodeDeploy ECS configuration, e.g. CodeDeployDefault.ECSCanary10Percent5Minutes."
  }
}

variable "api_test_listener_port" {
  type        = number
  description = "Load balancer port of the blue-green test listener (the green task set before it takes production traffic)."
  default     = 8443

  validation {
    condition     = var.api_test_listener_port >= 1024 && var.api_test_listener_port <= 65535 && !contains([5000, 8080], var.api_test_listener_port)
    error_message = "api_test_listener_port must be 1024-65535 and not 5000 or 8080 (the MLflow and Airflow listeners)."
  }
}

variable "api_blue_termination_wait_minutes" {
  type        = number
  description = "Minutes the previous API task set keeps running after a blue-green shift, during which an alarm still rolls back at once."
  default     = 15

  validation {
    condition     = var.api_blue_termination_wait_minutes >= 0 && var.api_blue_termination_wait_minutes <= 2880
    error_message = "api_blue_termination_wait_minutes must be between 0 and 2880."
  }
}

variable "api_metrics_to_cloudwatch" {
  type        = bool
  description = "Run a CloudWatch agent task (about $9/month) that publishes the API's decision, prediction and drift-share metrics for the dashboard."
  default     = true
}

variable "chatbot_slack_workspace_id" {
  type        = string
  description = "Slack workspace (team) ID for AWS Chatbot, authorised once per account in the Chatbot console; used with chatbot_slack_channel_id."
  default     = null
}

variable "chatbot_slack_channel_id" {
  type        = string
  description = "Slack channel ID that receives the alert topic (alarms, deployments) through AWS Chatbot; null sends no chat messages."
  default     = null
}

# ---- Spark past one machine (EMR Serverless) ---------------------------------------------

variable "enable_emr_serverless" {
  type        = bool
  description = "Create an EMR Serverless Spark application and its job role for the offline steps with --engine spark."
  default     = false
}

variable "emr_serverless_release_label" {
  type        = string
  description = "EMR release of the Spark application: emr-spark-8.0.0 runs Spark 4.0 (fraudops' pyspark is 4.0); emr-7.x releases run Spark 3.5."
  default     = "emr-spark-8.0.0"

  validation {
    condition     = can(regex("^emr-(spark-)?[0-9]+\\.[0-9]+\\.[0-9]+$", var.emr_serverless_release_label))
    error_message = "emr_serverless_release_label must be an EMR release label such as emr-spark-8.0.0 or emr-7.9.0."
  }
}

variable "emr_serverless_max_vcpu" {
  type        = number
  description = "Most vCPUs the Spark application's running jobs may hold at once (a cost ceiling)."
  default     = 32

  validation {
    condition     = var.emr_serverless_max_vcpu >= 1 && var.emr_serverless_max_vcpu <= 4000
    error_message = "emr_serverless_max_vcpu must be between 1 and 4000."
  }
}

variable "emr_serverless_max_memory_gb" {
  type        = number
  description = "Most memory (GB) the Spark application's running jobs may hold at once (a cost ceiling)."
  default     = 128

  validation {
    condition     = var.emr_serverless_max_memory_gb >= 2 && var.emr_serverless_max_memory_gb <= 24000
    error_message = "emr_serverless_max_memory_gb must be between 2 and 24000."
  }
}

variable "emr_serverless_image_uri" {
  type        = string
  description = "Custom image of the Spark application (EMR's emr-spark-8.0.0 image plus Python 3.11 and fraudops, in ECR); empty uses EMR's image, whose Python cannot run fraudops."
  default     = ""
}
