"""Deploy checks: will the planned stack *work* when `pulumi up` applies it to a fresh project?

The policy pack says what is allowed; these checks say what a real provider and the real Google
APIs would refuse or break on: inputs the SDK's own types do not accept, APIs never enabled,
resources created before what they need, principals missing the permissions their resources need
to run. They read the captured plan and its dependency graph only.
"""
