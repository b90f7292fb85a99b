"""A first end-to-end pass over the store API."""

from conftest import analytics_draft, mobile_draft, web_draft


def test_create_verify_revoke_round_trip(owner_repo):
    web = owner_repo.create_key(web_draft())
    mobile = owner_repo.create_key(mobile_draft())
    analytics = owner_repo.create_key(analytics_draft())
    assert owner_repo.verify(web.secret.get_secret_value(), origin="https://shop.example.com").valid
    assert owner_repo.verify(mobile.secret.get_secret_value(), app_id="com.example.shop").valid
    assert owner_repo.verify(analytics.secret.get_secret_value()).valid
    owner_repo.revoke_keys([web.key.id])
    verdict = owner_repo.verify(web.secret.get_secret_value(), origin="https://shop.example.com")
    assert (verdict.valid, verdict.reason) == (False, "revoked")
    assert [view.id for view in owner_repo.list_keys()] == [web.key.id, mobile.key.id, analytics.key.id]
