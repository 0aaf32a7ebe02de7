#!/bin/sh
# The imperative way (chapter 2.2): four commands, each telling the cluster what to DO.
# Run it twice to see why scripts like this are hard to keep correct.
kubectl create deployment nginx-imperative --image=nginx:latest
kubectl scale deployment/nginx-imperative --replicas=3
kubectl annotate deployment/nginx-imperative environment=prod
kubectl annotate deployment/nginx-imperative organization=sales
