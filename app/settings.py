"""The service's one settings object: every knob is an `SFGR_*` environment variable."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from typing import Literal, Self

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that only make sense on a developer's machine; production refuses to start with them.
EXAMPLE_DATABASE_URL = "postgresql+asyncpg://sfgr:sfgr@127.0.0.1:5432/sfgr"
EXAMPLE_SECRET = "change-me"  # noqa: S105 - the placeholder that production refuses


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SFGR_", env_file=None, extra="ignore")

    # Unset means production: the embedded development defaults (the development encryption key
    # above all) are used only where `development` or `test` is said explicitly.
    environment: Environment = Environment.PRODUCTION

    database_url: SecretStr = SecretStr(EXAMPLE_DATABASE_URL)
    database_pool_size: int = Field(10, ge=1)

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None
    # With SASL OAUTHBEARER: the identity provider's token endpoint and our client there; tokens
    # come from the client-credentials grant (app/kafka_oauth.py). The scope only if it wants one.
    kafka_oauth_token_url: str | None = None
    kafka_oauth_client_id: str | None = None
    kafka_oauth_client_secret: SecretStr | None = None
    kafka_oauth_scope: str | None = None
    # A client certificate and its key (PEM) for brokers that authenticate clients by TLS (mTLS),
    # e.g. a Strimzi KafkaUser's user.crt and user.key; the key's password if it has one.
    kafka_ssl_certfile: str | None = None
    kafka_ssl_keyfile: str | None = None
    kafka_ssl_key_password: SecretStr | None = None
    # What our Kafka clients call themselves to the brokers (quotas, ACL audit, broker logs).
    kafka_client_id: str = Field("sfgr-sync", min_length=1, max_length=255)
    # Tansu (tests, demo) rejects the idempotent producer; Apache Kafka in production wants it on.
    kafka_enable_idempotence: bool = True
    # Whether the processes create missing topics at start-up; false where topics are provisioned
    # elsewhere (then a missing topic stops start-up, naming it). Existing topics are never altered.
    kafka_create_topics: bool = True
    # How the topics we create are made; retention and every other topic config stay the broker's.
    kafka_topic_partitions: int = Field(6, ge=1)
    kafka_replication_factor: int = Field(1, ge=1)
    # With acks=all, how many in-sync replicas must hold a message before Kafka acknowledges it.
    # Unset: 2 from a replication factor of 3 up (an acknowledged write is on two brokers, and one
    # broker may be down without stopping writes), else 1.
    kafka_min_insync_replicas: int | None = Field(None, ge=1)
    # Kafka topic names allow only these characters, 249 at most (the longest suffix is 32).
    kafka_topic_prefix: str = Field("sfgr", pattern=r"^[A-Za-z0-9._-]+$", max_length=217)
    kafka_request_timeout_ms: int = Field(10_000, ge=100)
    # Tansu ignores LeaveGroup and delays joins by about half the session timeout, so the test
    # harness and the dev stack use a short one; Apache Kafka's defaults suit production.
    kafka_session_timeout_ms: int = Field(10_000, ge=500)
    kafka_heartbeat_interval_ms: int = Field(3_000, ge=100)
    # How long the broker may hold a consumer's fetch while no record is there. Kafka answers a
    # waiting fetch as soon as a record arrives, so its default costs no latency; Tansu answers it
    # about a fifth of the wait later (measured: 76 ms at 500, 5 ms at 50), so the dev stack and
    # the tests use 50 (idle, each empty fetch then costs the broker and the consumers a little CPU).
    kafka_fetch_max_wait_ms: int = Field(500, ge=1)

    # Fernet key (urlsafe base64, 32 bytes) that encrypts vendor credentials and inbound secrets at
    # rest; required unless the environment is development or test (which fall back to a fixed key).
    encryption_key: SecretStr | None = None
    # Keys that still decrypt but no longer encrypt, comma-separated: the old key during a rotation,
    # until `sfgr keys rotate` has re-encrypted everything under SFGR_ENCRYPTION_KEY.
    encryption_previous_keys: SecretStr | None = None

    # Hosts (comma-separated; `*.example.com` matches its subdomains) that vendor URLs may name
    # besides the vendors' own, over http or https: the simulators of the dev stack and the tests.
    allowed_vendor_hosts: str = ""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    max_body_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    # After `rotate-inbound-secrets`, how long the replaced inbound secrets (?key=, ?secret=, the
    # relay's HMAC key) are still accepted, so that the senders can be given the new ones.
    inbound_secret_overlap_s: float = Field(24 * 3600.0, ge=0)
    # How long an inbound endpoint waits for a whole body (after authenticating the sender from the
    # URL and headers); a body still arriving then is refused with 408.
    body_read_timeout_s: float = Field(10.0, gt=0)

    # The GetResponse poller: how often it asks for contacts changed since its watermark, and how
    # far back each ask reaches (changedOn has whole seconds, and creates become visible late).
    poll_interval_s: float = Field(2.0, gt=0)
    poll_overlap_s: float = Field(10.0, ge=0)
    # Every this many seconds the active poller enqueues a whole-sync reconcile of each sync, so
    # that what no delivery reported (a lost webhook, a custom-field edit changedOn does not show)
    # does not stay wrong; 0 turns it off.
    reconcile_interval_s: float = Field(6 * 3600.0, ge=0)
    # The outbox relay (app/outbox.py), run by the api and the resync consumers: how often it looks
    # for messages that committed transactions left unsent (a commit in its own process wakes it at
    # once), how many it sends per Kafka round trip, and how long sent rows are kept.
    outbox_poll_interval_s: float = Field(0.5, gt=0)
    outbox_batch_size: int = Field(100, ge=1)
    outbox_retention_s: float = Field(7 * 86400.0, ge=60)
    # Retention (app/retention.py), run by the api and the resync consumers, one at a time: how
    # long applied event ids, the decision log and replayed or discarded dead letters are kept, how
    # many rows one DELETE takes (short statements, short locks), and how often it looks. An event
    # redelivered after its id was pruned is applied again, and is then a no-op against the base.
    retention_processed_events_s: float = Field(7 * 86400.0, ge=60)
    retention_decisions_s: float = Field(90 * 86400.0, ge=60)
    retention_dead_letters_s: float = Field(30 * 86400.0, ge=60)
    retention_batch_size: int = Field(5000, ge=1)
    retention_interval_s: float = Field(3600.0, gt=0)
    # Two edits of one field this close together count as simultaneous: the preferred system wins.
    clock_skew_ms: int = Field(1000, ge=0)

    # How often a process that holds a vendor client re-reads its connection's row (one small
    # query per connection, never per event): a reconnect, a new key or a disconnect reaches every
    # consumer, retrier, poller and job worker within this time, without a restart.
    connection_recheck_s: float = Field(3.0, gt=0)
    # How long the discovery endpoints (GetResponse lists and custom fields, Salesforce fields and
    # Campaigns) keep an answer per connection: the wizard asks the same questions many times.
    discovery_cache_s: float = Field(30.0, ge=0)
    # How long a sign-in to the admin UI (/ui) lasts; then the person signs in again with a token.
    ui_session_s: int = Field(3600, ge=60)

    # How a change that failed transiently (5xx, timeouts, connection errors, 429,
    # REQUEST_LIMIT_EXCEEDED) is retried off the live path (consumers/processing.py): exponential
    # backoff with jitter from the base delay up to the max delay, for as long as the budget lasts
    # from its first failure (the vendors retry their own deliveries for 24 h); only then, or for a
    # permanent failure, does it become a dead letter.
    retry_base_delay_s: float = Field(1.0, gt=0)
    retry_max_delay_s: float = Field(600.0, gt=0)
    retry_budget_s: float = Field(24 * 3600.0, gt=0)
    # Retries a retrier holds in memory, waiting for their due time, per partition; past this it
    # stops fetching that partition until some are done.
    retry_max_held: int = Field(10_000, ge=1)
    # Per vendor account: the circuit opens when, within the window, at least this many calls failed
    # and they were at least the ratio of its calls; it probes after the open time, doubling it up to
    # the max while probes fail (app/clients/breaker.py).
    breaker_window_s: float = Field(10.0, gt=0)
    breaker_min_failures: int = Field(10, ge=1)
    breaker_failure_ratio: float = Field(0.5, gt=0, le=1)
    breaker_open_s: float = Field(5.0, gt=0)
    breaker_max_open_s: float = Field(30.0, gt=0)

    # A GetResponse account's limits (api-contracts B10): 80 calls per second, 10 at once, 30,000
    # per 10 minutes, for every process on the account together (one budget kept in Postgres,
    # app/clients/shared_limits.py). Lower them to leave part of the account to other integrations.
    getresponse_per_second: int = Field(80, ge=1)
    getresponse_concurrency: int = Field(10, ge=1)
    getresponse_per_window: int = Field(30_000, ge=1)
    # How long a process's slice of the budget outlives its last renewal (it renews every 0.25 s
    # while working, every second while idle): a dead process's slice returns after this.
    rate_budget_lease_s: float = Field(3.0, ge=2.7, le=60.0)
    # False: each process limits itself alone to the whole account, as if it were the only one
    # (replicas together then meet 429s, and wait). For a single process, or to compare.
    rate_budget_shared: bool = True

    # Share of the org's rolling 24 h API allocation left to its other users: the sync stops
    # calling (and retries later) once it would eat into it.
    salesforce_api_reserve_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    # Once the allocation is spent (REQUEST_LIMIT_EXCEEDED, or the reserve reached), how often one
    # call goes through to learn from its Sforce-Limit-Info whether the rolling window freed calls;
    # the others are retried after this long.
    salesforce_quota_recheck_s: float = Field(300.0, gt=0)

    # Where a consumer, retrier, poller or subscriber process serves `/metrics` and `/healthz`
    # (app/observability.py); the api serves both on its own port. 0: not served.
    metrics_port: int = Field(9100, ge=0, le=65535)
    metrics_host: str = "0.0.0.0"  # noqa: S104 - scraped from other pods
    # `/healthz` of such a process answers 503 once one of its loops has not turned for this long
    # (a hung consumer is then restarted by its liveness probe). Long jobs beat as they progress.
    health_stall_s: float = Field(120.0, gt=0)

    # A file a consumer or poller process creates once it is working (holds its partitions, or its
    # lock): how the dev stack and the tests know a process is ready without a port to probe.
    ready_file: str | None = None

    # What our Salesforce writes carry in `Sforce-Call-Options: client=...`, to recognise echoes.
    salesforce_client_id: str = "sfgr-sync"

    # The connected app of the OAuth web-server flow (`/v1/connections/salesforce/authorize`); not
    # the Sforce-Call-Options client above. The redirect URI defaults to this api's own callback URL.
    salesforce_oauth_client_id: str | None = None
    salesforce_oauth_client_secret: SecretStr | None = None
    salesforce_oauth_redirect_uri: str | None = None
    # Login hosts of each environment (api-contracts A4); tests point them at the simulator.
    salesforce_login_url: str = "https://login.salesforce.com"
    salesforce_sandbox_login_url: str = "https://test.salesforce.com"
    # How long an OAuth `state` (with its PKCE verifier) waits for the user to come back.
    oauth_state_ttl_s: int = Field(600, ge=30)
    # The Pub/Sub API subscriber (`sfgr subscribe`, api-contracts A5): where the API listens
    # (host:port), whether over TLS (plaintext only for the simulator on loopback), the channels of
    # every connected org (`/data/CampaignMemberChangeEvent` is added for an org with a sync grouped
    # by a Campaign; or name one custom channel `/data/<Name>__chn`), and where a first run starts.
    salesforce_pubsub_address: str = "api.pubsub.salesforce.com:7443"
    salesforce_pubsub_tls: bool = True
    salesforce_pubsub_channels: list[str] = Field(
        default_factory=lambda: ["/data/LeadChangeEvent", "/data/ContactChangeEvent"], min_length=1
    )
    salesforce_pubsub_start: Literal["latest", "earliest"] = "latest"
    # After a stored replay id is refused as expired or unknown (replayid.corrupted): where the
    # stream starts again (every change since the last processed commit is re-read as well).
    # `earliest` leaves no window between the re-read and the stream; `latest` skips what is retained.
    salesforce_pubsub_expired_replay: Literal["earliest", "latest"] = "earliest"
    # Credit asked for per stream (at most 100 outstanding); topped up once half of it is spent.
    salesforce_pubsub_batch: int = Field(100, ge=1, le=100)
    # Transient errors (UNAVAILABLE, a lost connection, refused requests) back off from the base
    # delay, doubling up to the max; a spent daily delivery allocation (RESOURCE_EXHAUSTED) waits
    # the long delay before asking again.
    salesforce_pubsub_retry_base_s: float = Field(1.0, gt=0)
    salesforce_pubsub_retry_max_s: float = Field(60.0, gt=0)
    salesforce_pubsub_exhausted_wait_s: float = Field(3600.0, gt=0)
    # The subscriber's /healthz fails when the active subscriber heard nothing (no event, no
    # keepalive, which comes about every 270 s) for this long; it listens on the port below.
    salesforce_pubsub_silence_s: float = Field(300.0, gt=0)
    subscriber_health_port: int = Field(8081, ge=0)

    # Event Relay (POST /v1/salesforce/event-relay): the header in which EventBridge's API
    # destination sends the connection's key (its "API key" authorization), and how long the key a
    # rotation replaced is still accepted, while the destination's connection is changed to the new
    # one (EventBridge does not retry a 401: events refused meanwhile would be lost).
    event_relay_key_header: str = Field("X-Sfgr-Api-Key", pattern=r"^[A-Za-z0-9-]{1,64}$")
    event_relay_key_grace_s: float = Field(3600.0, ge=0)
    # Where Salesforce and GetResponse reach this api, for the inbound URLs shown after a connect;
    # unset: the base URL of the connect request itself.
    public_base_url: str | None = None

    @model_validator(mode="after")
    def _settle_min_insync_replicas(self) -> Self:
        if self.kafka_min_insync_replicas is None:
            self.kafka_min_insync_replicas = 2 if self.kafka_replication_factor >= 3 else 1
        elif self.kafka_min_insync_replicas > self.kafka_replication_factor:
            raise ValueError(
                f"SFGR_KAFKA_MIN_INSYNC_REPLICAS ({self.kafka_min_insync_replicas}) is above "
                f"SFGR_KAFKA_REPLICATION_FACTOR ({self.kafka_replication_factor}): every publish "
                "(acks=all) to the topics created with it would fail with NOT_ENOUGH_REPLICAS"
            )
        return self

    @property
    def extra_vendor_hosts(self) -> tuple[str, ...]:
        return tuple(h.strip().lower() for h in self.allowed_vendor_hosts.split(",") if h.strip())

    @property
    def previous_encryption_keys(self) -> tuple[str, ...]:
        given = self.encryption_previous_keys.get_secret_value() if self.encryption_previous_keys else ""
        return tuple(k.strip() for k in given.split(",") if k.strip())

    @model_validator(mode="after")
    def _check_encryption_keys(self) -> Self:
        """At start-up, not on first use: a key that is not a Fernet key names its setting."""
        given = self.encryption_key.get_secret_value() if self.encryption_key else ""
        if given and not _is_fernet_key(given):
            raise ValueError(
                "SFGR_ENCRYPTION_KEY is not a Fernet key (32 bytes, url-safe base64: 44 characters)"
            )
        for position, key in enumerate(self.previous_encryption_keys, start=1):
            if not _is_fernet_key(key):
                raise ValueError(
                    f"SFGR_ENCRYPTION_PREVIOUS_KEYS: key {position} is not a Fernet key "
                    "(32 bytes, url-safe base64: 44 characters)"
                )
        return self

    @model_validator(mode="after")
    def _oauthbearer_has_a_token_endpoint(self) -> Self:
        if self.kafka_sasl_mechanism == "OAUTHBEARER" and not (
            self.kafka_oauth_token_url and self.kafka_oauth_client_id
        ):
            raise ValueError(
                "SFGR_KAFKA_SASL_MECHANISM=OAUTHBEARER needs SFGR_KAFKA_OAUTH_TOKEN_URL and "
                "SFGR_KAFKA_OAUTH_CLIENT_ID (tokens come from the client-credentials grant)"
            )
        return self

    @model_validator(mode="after")
    def _client_certificate_whole(self) -> Self:
        if bool(self.kafka_ssl_certfile) != bool(self.kafka_ssl_keyfile):
            raise ValueError("SFGR_KAFKA_SSL_CERTFILE and SFGR_KAFKA_SSL_KEYFILE go together (mTLS)")
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_production_defaults(self) -> Self:
        if self.environment is not Environment.PRODUCTION:
            return self
        problems: list[str] = []
        if self.encryption_key is None or not self.encryption_key.get_secret_value():
            problems.append(
                "SFGR_ENCRYPTION_KEY is required unless SFGR_ENVIRONMENT is development or test (vendor "
                "credentials are encrypted at rest; make one with `python -c 'from cryptography.fernet "
                "import Fernet; print(Fernet.generate_key().decode())'`)"
            )
        if self.database_url.get_secret_value() == EXAMPLE_DATABASE_URL:
            problems.append("SFGR_DATABASE_URL is still the example value")
        if self.kafka_sasl_password and self.kafka_sasl_password.get_secret_value() == EXAMPLE_SECRET:
            problems.append("SFGR_KAFKA_SASL_PASSWORD is still the example value")
        if self.kafka_security_protocol.startswith("SASL") and not self.kafka_sasl_mechanism:
            problems.append("SFGR_KAFKA_SASL_MECHANISM is required with a SASL security protocol")
        if problems:
            raise ValueError("unsafe production settings: " + "; ".join(problems))
        return self


def _is_fernet_key(value: str) -> bool:
    try:
        Fernet(value.encode())
    except ValueError:
        return False
    return True


@lru_cache
def get_settings() -> Settings:
    return Settings()
