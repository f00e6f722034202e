-- Token roles: what a token may do. Tokens created before roles existed keep full access.
ALTER TABLE access_tokens ADD COLUMN role TEXT COLLATE "C" NOT NULL DEFAULT 'full_access';
