"""Configuration: one settings object read from CMDB_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from cmdb.discovery.vendors import DEFAULT_MEDICAL_VENDORS

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
    # A full batch of 2000 CIs of the demo hospital is about 1 MB of JSON, so 4 MiB leaves room for
    # richer attributes.
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="Maximum size of an HTTP request body in bytes; a larger one is rejected with 413.",
    )
    batch_size: int = Field(default=2000, ge=1, description="Rows per write transaction.")
    log_level: str = Field(default="INFO", description="Python logging level.")

    discovery_targets: list[str] = Field(
        default_factory=list, description='Targets of periodic discovery, e.g. ["10.20.0.0/24"].'
    )
    discovery_credentials: Path | None = Field(default=None, description="SNMP credentials YAML file.")
    discovery_interval: str | None = Field(
        default=None, description="Time between periodic runs of `cmdb serve`, e.g. 6h; unset: none."
    )
    discovery_stale_after: str = Field(default="7d", description="Age after which an unseen CI is stale.")
    discovery_timeout: float = Field(default=2.0, gt=0, description="Seconds per SNMP request.")
    discovery_retries: int = Field(default=1, ge=0, description="Retries per SNMP request.")
    discovery_concurrency: int = Field(default=32, ge=1, description="Targets collected at once.")
    discovery_max_macs_per_port: int = Field(
        default=8, ge=1, description="MACs above which a switch port counts as an uplink."
    )
    discovery_medical_vendors: list[str] = Field(
        default_factory=lambda: list(DEFAULT_MEDICAL_VENDORS),
        description="OUI organisation names whose unknown endpoints become MedicalDevice CIs.",
    )

    neo4j_user: str = Field(default="neo4j", description="Neo4j user name.")
    neo4j_password: SecretStr = Field(default=SecretStr(""), description="Neo4j password.")
    neo4j_database: str = Field(default="neo4j", description="Neo4j database name.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once."""
    return Settings()
