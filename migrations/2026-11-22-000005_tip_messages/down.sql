DROP TABLE tip_messages;
