#!/usr/bin/env bash
# Builds the kit's SageMaker container image (docker/Dockerfile) and pushes it to Amazon ECR, then
# prints the `image:` line for config.yaml.
#
#   scripts/image-build-push.sh [--region us-west-2] [--repository cbkit] [--tag latest] [--no-push]
#
# Needs: docker (with a running engine), the AWS CLI v2 with credentials allowed to push to ECR
# (ecr:GetAuthorizationToken, DescribeRepositories, CreateRepository, BatchCheckLayerAvailability,
# InitiateLayerUpload, UploadLayerPart, CompleteLayerUpload, PutImage), Node.js for the build.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
repository="cbkit"
tag="latest"
push=1

while [ $# -gt 0 ]; do
  case "$1" in
    --region) region="$2"; shift 2 ;;
    --repository) repository="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    --no-push) push=0; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

need() { command -v "$1" >/dev/null 2>&1 || { echo "error: '$1' is not installed or not on PATH; $2" >&2; exit 1; }; }
need docker "install Docker (https://docs.docker.com/get-docker/) and start its engine"
need node "install Node.js 20"
if [ "$push" = 1 ]; then
  need aws "install the AWS CLI v2 (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html)"
  [ -n "$region" ] || region="$(aws configure get region 2>/dev/null || true)"
  [ -n "$region" ] || { echo "error: no AWS region: pass --region or set AWS_REGION" >&2; exit 1; }
fi

echo "== compiling common/"
(cd "$root" && npx tsc -b common)
for f in train evaluate serve; do
  [ -f "$root/common/dist/container/$f.js" ] || { echo "error: common/dist/container/$f.js is missing after the build" >&2; exit 1; }
done

# A minimal build context: only what the image copies (works with or without BuildKit).
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
mkdir -p "$context/common" "$context/docker"
cp "$root/common/package.json" "$context/common/"
cp -R "$root/common/dist" "$context/common/dist"
cp "$root/docker/entrypoint.sh" "$context/docker/"

local_image="$repository:$tag"
echo "== building $local_image (linux/amd64, the architecture of ml.* CPU instances)"
docker build --platform linux/amd64 -f "$root/docker/Dockerfile" -t "$local_image" "$context"

if [ "$push" = 0 ]; then
  echo "built $local_image (not pushed)"
  exit 0
fi

account="$(aws sts get-caller-identity --query Account --output text)"
registry="$account.dkr.ecr.$region.amazonaws.com"
echo "== pushing to $registry/$repository:$tag"
if ! aws ecr describe-repositories --region "$region" --repository-names "$repository" >/dev/null 2>&1; then
  aws ecr create-repository --region "$region" --repository-name "$repository" --image-scanning-configuration scanOnPush=true >/dev/null
  echo "created ECR repository $repository"
fi
aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry"
docker tag "$local_image" "$registry/$repository:$tag"
docker push "$registry/$repository:$tag"

echo
echo "Pushed $registry/$repository:$tag"
echo "Put this line into config.yaml ({AWS_REGION} is filled in from sagemaker.region):"
echo "image: \"$account.dkr.ecr.{AWS_REGION}.amazonaws.com/$repository:$tag\""
