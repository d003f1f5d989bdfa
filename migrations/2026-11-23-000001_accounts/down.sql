DROP TABLE account_tokens;
DROP TABLE sessions;
DROP TABLE recovery_codes;
DROP TABLE user_teams;
DROP TABLE users;
