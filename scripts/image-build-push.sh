#!/usr/bin/env bash
# Builds the kit's SageMaker container image (docker/Dockerfile) and pushes it to Amazon ECR as a
# single-platform image with a Docker image manifest (v2, schema 2), checks the manifest type ECR
# stored, then prints the `image:` line for config.yaml.
#
#   scripts/image-build-push.sh [--region us-west-2] [--repository cbkit] [--tag latest] [--no-push]
#
# Needs: docker (with a running engine and the buildx plugin, part of Docker 23 and later), the AWS
# CLI v2 with credentials allowed to push to ECR (ecr:GetAuthorizationToken, DescribeRepositories,
# CreateRepository, BatchCheckLayerAvailability, InitiateLayerUpload, UploadLayerPart,
# CompleteLayerUpload, PutImage, DescribeImages), Node.js for the build.
set -euo pipefail

# The only manifest type SageMaker takes for training and hosting images: it refuses OCI manifests
# and image indexes ("Unsupported manifest media type").
DOCKER_MANIFEST="application/vnd.docker.distribution.manifest.v2+json"

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
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

need() { command -v "$1" >/dev/null 2>&1 || { echo "error: '$1' is not installed or not on PATH; $2" >&2; exit 1; }; }
need docker "install Docker (https://docs.docker.com/get-docker/) and start its engine"
docker buildx version >/dev/null 2>&1 || {
  echo "error: 'docker buildx' is not available; install the Docker Buildx plugin (https://docs.docker.com/go/buildx/)." >&2
  echo "It is needed to build without provenance attestations and with Docker media types, which SageMaker requires." >&2
  exit 1
}
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

# A minimal build context: only what the image copies.
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
mkdir -p "$context/common" "$context/docker"
cp "$root/common/package.json" "$context/common/"
cp -R "$root/common/dist" "$context/common/dist"
cp "$root/docker/entrypoint.sh" "$context/docker/"

# One platform (linux/amd64, the architecture of ml.* CPU instances) and no attestations: with
# provenance or SBOM attestations, BuildKit pushes an OCI image index, which SageMaker refuses.
build=(docker buildx build --platform linux/amd64 --provenance=false --sbom=false -f "$root/docker/Dockerfile")

if [ "$push" = 0 ]; then
  local_image="$repository:$tag"
  echo "== building $local_image"
  "${build[@]}" --load -t "$local_image" "$context"
  echo "built $local_image (not pushed)"
  exit 0
fi

account="$(aws sts get-caller-identity --query Account --output text)"
registry="$account.dkr.ecr.$region.amazonaws.com"
remote="$registry/$repository:$tag"
if ! aws ecr describe-repositories --region "$region" --repository-names "$repository" >/dev/null 2>&1; then
  aws ecr create-repository --region "$region" --repository-name "$repository" --image-scanning-configuration scanOnPush=true >/dev/null
  echo "created ECR repository $repository"
fi
aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry"

# BuildKit pushes straight to ECR, with Docker (not OCI) media types, bypassing the local image
# store: Docker's containerd image store would push what it stores, an OCI index.
echo "== building and pushing $remote"
"${build[@]}" --output "type=image,name=$remote,push=true,oci-mediatypes=false" "$context"

# What ECR stored (DescribeImages reports the manifest type as pushed, with no conversion).
media_type="$(aws ecr describe-images --region "$region" --repository-name "$repository" --image-ids "imageTag=$tag" \
  --query 'imageDetails[0].imageManifestMediaType' --output text)"
if [ "$media_type" != "$DOCKER_MANIFEST" ]; then
  case "$media_type" in
    *index*|*list*) kind="an image index (a list of manifests: attestations or several platforms)" ;;
    application/vnd.oci.*) kind="an OCI image manifest" ;;
    *) kind="an unexpected manifest" ;;
  esac
  {
    echo "error: ECR stored $remote as $kind, media type '$media_type'."
    echo "SageMaker accepts only $DOCKER_MANIFEST and refuses this image (\"Unsupported manifest media type\"),"
    echo "so do not put it into config.yaml. Update Docker and buildx (or turn off Docker's containerd image store),"
    echo "then run this script again; it overwrites the tag."
  } >&2
  exit 1
fi

echo
echo "Pushed $remote ($media_type)"
echo "Put this line into config.yaml ({AWS_REGION} is filled in from sagemaker.region):"
echo "image: \"$account.dkr.ecr.{AWS_REGION}.amazonaws.com/$repository:$tag\""
