"""LTI Dynamic Registration 1.0 (IMS, §3 registration flow): a platform registers the tool itself.

- ``invitations.py``: the single-use, expiring links ``bridge platform invite`` prints (only a hash
  of each token is stored) and their single-use claim.
- ``client.py``: the outbound HTTP to the platform (its OpenID configuration, the client
  registration POST), with timeouts and the checks pylti1p3's ``DynamicRegistration`` leaves out.
- ``service.py``: the use case: who may register, talk to the platform, then store the registration,
  its deployment and the used invitation in one transaction.
- ``views.py``: ``GET /lti/register``, the page the platform opens, and its completion page.
"""
