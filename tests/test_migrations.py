from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory

from gerbang.migration import MIGRATIONS_DIR, alembic_config, head_revision


def test_models_and_migrations_agree(database_url: str) -> None:
    """`alembic check`: autogenerate against the migrated database finds nothing to do."""
    command.check(alembic_config(database_url))


def test_every_migration_downgrades_and_upgrades_again(database_url: str) -> None:
    config = alembic_config(database_url)
    command.downgrade(config, "base")
    command.upgrade(config, "head")
    command.check(config)


def test_one_head() -> None:
    assert ScriptDirectory(str(MIGRATIONS_DIR)).get_heads() == [head_revision()]
