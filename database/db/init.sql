-- The upstream schema and seed rows. Written to be run again (IF NOT EXISTS, ON CONFLICT DO NOTHING):
-- the dev runner runs it at every start, and a second run keeps what the walkthrough changed.
CREATE TABLE IF NOT EXISTS users (
    userid varchar(255) NOT NULL,
    name varchar(255) NOT NULL,
    address varchar(255) NOT NULL,
    credits numeric NOT NULL,
    version numeric NOT NULL,
    PRIMARY KEY (userid)
);

CREATE TABLE IF NOT EXISTS user_idempotency (
    id varchar(255) NOT NULL,
    PRIMARY KEY (id)
);

INSERT INTO users (userid, name, address, credits, version)
VALUES ('A', 'Don', '1600 Pennsylvania Avenue NW, Washington, DC 20500, USA', 1000, 0),
       ('B', 'Keir', '10 Downing St, London SW1A 2AB, UK', 1000, 0)
ON CONFLICT (userid) DO NOTHING;
