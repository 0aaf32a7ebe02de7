#!/bin/sh
# The GitOps CI pipeline of chapter 2.5.2, for a real setup (the lab's CI button does the same
# stages against your local repositories). Run it in a clone of the sample-app repository.
set -eu

# 1. A version nobody else can have: the commit this build is made from.
version=$(git rev-parse --short=7 HEAD)
image="registry.example.com/sample-app:${version}"

# 2. Build and test as usual, then build and publish the image under that unique tag.
go test ./...
docker build -t "$image" .
docker push "$image"

# 3. Do not touch the cluster: change the desired state in the config repository instead.
git clone https://git.example.com/team/config.git /tmp/config
cd /tmp/config
kubectl patch --local -f deployment.yaml -o yaml \
    -p "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"sample-app\",\"image\":\"${image}\"}]}}}}" \
    > /tmp/deployment.yaml
mv /tmp/deployment.yaml deployment.yaml

# 4. Commit and push; the GitOps operator takes it from here.
git commit -am "Deploy sample-app ${version}"
git push
