DROP TABLE sso_sessions;
DROP TABLE sso_flows;
DROP TABLE user_identities;
ALTER TABLE users DROP COLUMN local_login_allowed;
