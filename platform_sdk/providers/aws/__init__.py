"""The AWS compiler: neutral resources -> `hashicorp/aws` 6.x resources (S3, Lambda, CloudFront, RDS)."""

from platform_sdk.providers.aws.compiler import AwsCompiler

# Terraform types whose destroy or replace loses data: the plan report flags them (platform_sdk.terraform.stateful).
STATEFUL_TYPES: frozenset[str] = frozenset({"aws_s3_bucket", "aws_db_instance"})

__all__ = ["STATEFUL_TYPES", "AwsCompiler"]
