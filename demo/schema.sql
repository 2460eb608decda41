-- demo/schema.sql -- the NADIA HITL "interactions" table and its indexes.
--
-- One row per user message and the bot's answer: the message, both LLM
-- passes (raw answer and the bubbles actually sent), the constitution check,
-- the human review (status, timestamps, quality score, edit tags), cost per
-- LLM pass, the call-to-action data and the Telegram bookkeeping, including
-- messages recovered after an outage (is_recovered_message, with the
-- original user_message_timestamp).
--
-- Idempotent: safe to run on a database that already has it.  The demo,
-- the benchmarks and the tests load it with
--   psql -v ON_ERROR_STOP=1 -f demo/schema.sql

CREATE TABLE IF NOT EXISTS public.interactions (
    id                          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id                     BIGINT NOT NULL,
    conversation_id             UUID NOT NULL,
    message_number              INTEGER NOT NULL DEFAULT 1,

    user_message                TEXT NOT NULL,
    llm1_raw_response           TEXT,
    llm2_bubbles                TEXT[],

    constitution_risk_score     DECIMAL(3,2)
        CHECK (constitution_risk_score >= 0 AND constitution_risk_score <= 1),
    constitution_flags          TEXT[] DEFAULT '{}',
    constitution_recommendation VARCHAR(20)
        CHECK (constitution_recommendation IN ('approve', 'review', 'escalate')),

    review_status               VARCHAR(20) NOT NULL DEFAULT 'pending'
        CHECK (review_status IN ('pending', 'reviewing', 'approved', 'rejected')),
    priority_score              DECIMAL(3,2) DEFAULT 0.50,

    llm1_model                  VARCHAR(50),
    llm2_model                  VARCHAR(50),
    llm1_cost_usd               DECIMAL(6,4),
    llm2_cost_usd               DECIMAL(6,4),

    quality_score               INTEGER CHECK (quality_score BETWEEN 1 AND 5),
    edit_tags                   TEXT[] DEFAULT '{}',
    cta_data                    JSONB,
    customer_status             VARCHAR(20) DEFAULT 'PROSPECT',

    telegram_message_id         BIGINT,
    telegram_date               TIMESTAMPTZ,
    is_recovered_message        BOOLEAN NOT NULL DEFAULT FALSE,
    user_message_timestamp      TIMESTAMPTZ,

    review_started_at           TIMESTAMPTZ,
    review_completed_at         TIMESTAMPTZ,
    created_at                  TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- The review's indexes: time-ordered dashboard scans, per-user history, the
-- full-text search of the review UI, and the review queue.
CREATE INDEX IF NOT EXISTS idx_interactions_created_at
    ON public.interactions (created_at DESC);
CREATE INDEX IF NOT EXISTS idx_interactions_user_created
    ON public.interactions (user_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_interactions_user_message_fts
    ON public.interactions USING GIN (to_tsvector('english', user_message));
CREATE INDEX IF NOT EXISTS idx_interactions_review_queue
    ON public.interactions (priority_score DESC, created_at)
    WHERE review_status = 'pending';
CREATE INDEX IF NOT EXISTS idx_interactions_conversation
    ON public.interactions (conversation_id, message_number);
