#!/usr/bin/env bash
# The NGINX operator of chapter 2.3.3 as the book sketches it: one nginx Deployment for EVERY
# ConfigMap in the namespace. Kept here to show its flaw on today's clusters — every namespace
# holds a kube-root-ca.crt ConfigMap, and this script serves it as a website. Use controller.sh.
#
# Run it in your own terminal (KUBECONFIG pointing at the lab's cluster): bash controller-naive.sh
# Stop it with Ctrl+C.

# One line per change: "ADDED name", "MODIFIED name" or "DELETED name". The watch first lists
# what already exists, as ADDED.
kubectl get configmaps --watch --output-watch-events --no-headers \
    --output=custom-columns=EVENT:.type,NAME:.object.metadata.name |
while read -r event name; do
    case "$event" in
        ADDED | MODIFIED)
            # A new value in the pod template's annotations makes the Deployment restart its
            # pods, so that they pick up the changed page at once.
            kubectl apply -f - <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $name
spec:
  selector:
    matchLabels: {app: $name}
  template:
    metadata:
      labels: {app: $name}
      annotations: {kubectl.kubernetes.io/restartedAt: "$(date +%s)"}
    spec:
      containers:
        - name: nginx
          image: nginx:1.7.9
          ports: [{containerPort: 80}]
          volumeMounts: [{name: page, mountPath: /usr/share/nginx/html}]
      volumes:
        - name: page
          configMap: {name: $name}
YAML
            ;;
        DELETED)
            kubectl delete deployment "$name"
            ;;
    esac
done
