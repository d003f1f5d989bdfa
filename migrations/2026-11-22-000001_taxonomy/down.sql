DROP TABLE municipalities;
DROP TABLE regions;
DROP TABLE reporter_roles;
DROP TABLE care_sectors;
DROP TABLE categories;
