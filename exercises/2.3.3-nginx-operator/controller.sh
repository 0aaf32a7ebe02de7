#!/usr/bin/env bash
# The NGINX operator of chapter 2.3.3 in shell, fixed for today's clusters:
#   - it only looks at ConfigMaps that opt in with the label gitops-lab.dev/nginx-site, so
#     kube-root-ca.crt (which Kubernetes puts in every namespace) never becomes a website;
#   - it runs nginx:1.27, not the book's nginx:1.7.9 from 2014, whose old image format current
#     container runtimes no longer pull.
#
# Run it in your own terminal (KUBECONFIG pointing at the lab's cluster):
#   bash controller.sh [NAMESPACE]
# Stop it with Ctrl+C. Do not run it at the same time as the lab's operator: both would claim the
# same Deployments. Mark a ConfigMap as a site with:
#   kubectl label configmap NAME gitops-lab.dev/nginx-site=true
set -u
namespace="${1:-default}"
site_label="gitops-lab.dev/nginx-site"

# The Deployment serving ConfigMap $1 (its keys become files in nginx's web root).
site() {
    cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $1
  labels: {app.kubernetes.io/managed-by: controller.sh}
spec:
  selector:
    matchLabels: {app: $1}
  template:
    metadata:
      labels: {app: $1}
      annotations: {kubectl.kubernetes.io/restartedAt: "$(date +%s)"}
    spec:
      containers:
        - name: nginx
          image: nginx:1.27
          ports: [{containerPort: 80}]
          volumeMounts: [{name: page, mountPath: /usr/share/nginx/html}]
      volumes:
        - name: page
          configMap: {name: $1}
YAML
}

kubectl get configmaps --namespace "$namespace" --selector "$site_label" \
    --watch --output-watch-events --no-headers \
    --output=custom-columns=EVENT:.type,NAME:.object.metadata.name |
while read -r event name; do
    case "$event" in
        ADDED | MODIFIED) site "$name" | kubectl apply --namespace "$namespace" -f - ;;
        DELETED) kubectl delete deployment "$name" --namespace "$namespace" --ignore-not-found ;;
    esac
done
