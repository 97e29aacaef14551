from tests.order.conftest import add_account, admin, live, post, shop  # noqa: F401 (fixtures, re-exported)
