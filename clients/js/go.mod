module github.com/stripeline/stripeline/clients/js

go 1.26.8
