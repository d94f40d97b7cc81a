-- The table the headline flow reads (the same rows as scripts/demo.sh).
create table users (id int primary key, first_name text, last_name text, city text);
insert into users values (1, 'Ada', 'Lovelace', 'London'), (2, 'Grace', 'Hopper', 'Arlington'),
  (3, 'Alan', 'Turing', 'Manchester'), (4, 'Katherine', 'Johnson', 'Hampton');
