module gitops-lab/sample-app

go 1.22
