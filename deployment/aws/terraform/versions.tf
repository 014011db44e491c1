terraform {
  # 1.6 brought the S3 backend options used in backend.hcl.example; newer releases work too.
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # Partial configuration: the bucket, key, region and lock table come from a file
  # built from backend.hcl.example, so one configuration serves every environment:
  #   terraform init -backend-config=backend.hcl -backend-config="key=fraudops/staging/terraform.tfstate"
  backend "s3" {}
}
