pytest_plugins = ["tests.fixtures.secret_scan", "tests.fixtures.database", "tests.fixtures.app", "tests.fixtures.kafka"]
