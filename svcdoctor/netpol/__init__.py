"""NetworkPolicy, evaluated as Kubernetes defines it (networking.k8s.io/v1): pure functions
over the policies, the namespaces' labels and the pods, with no cluster access.

    evaluate   does a connection from a source (pod, node, external address) to a pod on a
               port/protocol pass both the source's egress and the destination's ingress,
               and which policy and rule decide
"""
