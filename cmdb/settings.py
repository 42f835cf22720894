"""Configuration: one settings object read from CMDB_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_STORE_FILE = "cmdb.sqlite3"


class Settings(BaseSettings):
    """Every setting of the service; each field is read from CMDB_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="CMDB_", extra="ignore")

    store: str = Field(
        default_factory=lambda: f"sqlite:///{Path.cwd() / DEFAULT_STORE_FILE}",
        description="Store URL: sqlite:///PATH, or neo4j:// / bolt:// for Neo4j.",
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP server listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="HTTP port.")
    open_reads: bool = Field(
        default=False, description="Allow GraphQL queries without a token (the demo turns it on)."
    )
    graphiql: bool = Field(default=True, description="Serve GraphiQL at /graphql.")
    priority_matrix: dict[str, str] = Field(
        default_factory=dict,
        description='Priority matrix cells that replace the default, e.g. {"2,1": "P1"}.',
    )
    max_query_depth: int = Field(default=12, ge=1, description="Maximum GraphQL query depth.")
    max_aliases: int = Field(default=30, ge=1, description="Maximum aliases in one query.")
    max_tokens: int = Field(default=2000, ge=10, description="Maximum tokens in one query.")
    max_traversal_cost: int = Field(
        default=50_000,
        ge=1,
        description="Maximum estimated cost of the traversals (neighbours, impact) in one query.",
    )
    batch_size: int = Field(default=2000, ge=1, description="Rows per write transaction.")
    log_level: str = Field(default="INFO", description="Python logging level.")

    neo4j_user: str = Field(default="neo4j", description="Neo4j user name.")
    neo4j_password: SecretStr = Field(default=SecretStr(""), description="Neo4j password.")
    neo4j_database: str = Field(default="neo4j", description="Neo4j database name.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once."""
    return Settings()
