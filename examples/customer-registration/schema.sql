-- The seed's table, as its README defines it (the spelling is the seed's).
CREATE TABLE IF NOT EXISTS costumers (
    id SERIAL PRIMARY KEY,
    name_costumer VARCHAR(256) NOT NULL,
    email VARCHAR(256) NOT NULL,
    phone VARCHAR(256) NOT NULL
);
